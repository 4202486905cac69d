/**
 * The order engine: one queue per book (symbol). Orders and cancels join their book's queue; a
 * runner takes what is queued on every book not already in a running batch (in arrival order, up
 * to `batchOperationsMax`) and runs it as ONE transaction (src/db/book_batch.ts). At most
 * `batchesInFlightMax` batches run at once; while they run, the next batch accumulates, so under
 * load batches grow by themselves, across books, and at low load an operation starts at once,
 * alone, without waiting. A book is in at most one running batch, so each book's operations are
 * decided in the order they reached it.
 *
 * A second batch starts beside a running one only while every running batch is held up: it has
 * waited longer than `batchLockWaitMs` for a pool connection and its book locks (held by another
 * process, or by an outside session), or its attempt has taken longer than `batchLongMs` for any
 * reason (a deep sweep, a slow statement). Then books that are not in the long batch go on: one
 * large order never stalls the whole exchange. Otherwise one batch at a time takes everything:
 * measured with 16 binary clients on 4 books, two batches always in flight made batches of 4.5
 * orders, reruns after a balance changed under the other batch (6% of batches) and 0.51 ms of CPU
 * per order (1700-1800 orders/s); one at a time made batches of 8, no reruns and 0.31 ms per order
 * (2400-2700 orders/s), in interleaved runs.
 *
 * Why several books per transaction: a transaction's fixed cost (BEGIN, locks, reads, the apply
 * call, COMMIT and its WAL flush) was about 1 ms of CPU against about 0.1 ms per order on top
 * (16 binary clients on 4 books, where a book's batch could never exceed its 4 clients: 2.6
 * orders per batch, 0.5 ms CPU per order; one hot book: 32 per batch, 0.13 ms).
 *
 * Bounded work: a batch also stops at `batchRowsMax` resting orders filled. Once an operation
 * takes the batch past it, the operations after it are not decided in that batch (the decision
 * answers only a prefix, src/exchange/book_batch.ts): they go back to the heads of their books'
 * queues, in order, and run in the next batch. Otherwise one deep sweep among a batch's
 * operations would hold all of them, and every book waiting behind the batch, for as long as the
 * whole batch's sweeps took. An order is atomic: one that alone sweeps more still runs whole.
 *
 * Failures: a deadlock or serialization failure reruns the batch (the transaction helper); a
 * balance changed by another transaction between read and lock reruns it with those accounts
 * locked first; a client reference stored by another transaction after the batch read the
 * references (the unique index) reruns it, and the rerun answers that order; a statement that
 * fails on a live connection for any other reason (a CHECK violation: our own bug) runs the
 * batch's operations again one per transaction, in arrival order, so that one bad operation
 * never takes its neighbours down. A batch whose COMMIT was
 * sent is never run again nor split: the helper answers it from what PostgreSQL says happened
 * (committed, aborted, or in doubt past the resolve deadline), and a failure after it committed
 * (building answers, an observer) never turns into a rerun. A database that cannot be reached
 * fails the whole batch: its operations are answered unavailable (nothing happened).
 *
 * Deadlines: every operation must be answered within `operationTimeoutMs` of reaching the
 * engine. A batch's work must be done by the earliest deadline of its operations less the
 * commit-resolve reserve; an operation that waited in its queue past that is answered
 * unavailable without running.
 */
import { assert } from "../exchange/assert.ts";
import type { BatchOp } from "../exchange/batch_types.ts";
import type { BatchOpOutcome, BatchReport } from "../db/book_batch.ts";
import { BatchCutError, runBookBatch } from "../db/book_batch.ts";
import type { Database } from "../db/database.ts";
import { DeadlineError } from "../db/connection_pool.ts";
import { isRefTaken, isRetryable, isStaleBalance, isTimeout, isUnavailable } from "../db/errors.ts";
import { CommittedAnswerError, OutcomeUnknownError } from "../db/transaction.ts";

/** What an operation submitted to the engine gets back. */
export type EngineAnswer = BatchOpOutcome | { readonly kind: "failed"; readonly error: unknown };

/** Observers of the engine's work (metrics); every method is optional. */
export interface EngineObserver {
  batch?(size: number): void;
  fills?(report: BatchReport): void;
  retry?(): void;
  /** Batches read `rows` resting orders from the books (first pages and further pages). */
  rowsRead?(rows: number): void;
  /** An observer or other bookkeeping threw: logged and counted, never allowed to change answers. */
  failure?(error: unknown): void;
}

export interface OrderEngineOptions {
  /** Most operations one batch (one transaction) takes from the queues. */
  batchOperationsMax: number;
  /** Resting orders one batch may fill before its later operations wait for the next batch. */
  batchRowsMax: number;
  /** Batches (transactions, pool connections) running at once. */
  batchesInFlightMax: number;
  /**
   * How long the running batches must have waited for their book locks (their attempt's wait for
   * a pool connection included) before another starts.
   */
  batchLockWaitMs: number;
  /** How long the running batches' attempts must have taken (waiting or not) before another starts. */
  batchLongMs: number;
  log: (line: string) => void;
  observer?: EngineObserver;
}

interface Pending {
  readonly op: BatchOp;
  readonly resolve: (answer: EngineAnswer) => void;
  /** When it must be answered by (a `performance.now()` time). */
  readonly deadline: number;
  /**
   * The operation its client submitted just before it, while that one is unanswered: this one
   * is decided after it, in the same batch or in a later one ({@link SubmissionOrder}).
   */
  after: Pending | undefined;
  /** Taken by a batch that has not ended (false again if it goes back to its queue). */
  inBatch: boolean;
  /** Answered (its batch ended, or it failed): what comes after it may be decided freely. */
  settled: boolean;
}

/**
 * The order in which one client (a connection) submits operations. The engine never decides an
 * operation before one submitted before it under the same order: the earlier one is in the same
 * batch, ahead of it (batches decide in arrival order), or in a batch that has already ended.
 * That is what lets a connection's pipelined requests run at once and still take effect in the
 * order sent (docs/PROTOCOL.md), whichever books they are on.
 *
 * Why it cannot wait forever: what an operation waits for arrived before it; the earliest
 * operation queued can only wait for one in a running batch, and running batches end (each has
 * its deadline), after which the engine takes batches again.
 */
export class SubmissionOrder {
  /** The last operation submitted under this order. */
  last: Pending | undefined;
}

/**
 * A batch being run: its operations, its books, when its current attempt started (set again as
 * every attempt starts) and whether that attempt holds its book locks yet.
 */
interface RunningBatch {
  readonly items: readonly Pending[];
  /** Its books (fewer once a cut left operations of other books to the next batch). */
  books: ReadonlySet<string>;
  /** When its current attempt started waiting for a connection and its book locks. */
  attemptStartedAt: number;
  /** True once the current attempt holds its book locks. */
  locked: boolean;
}

/** Counts of what the engine did, for the benchmark, the stress test and tests. */
export interface EngineStats {
  batches: number;
  /** Operations decided by the batches counted (one deferred to the next batch counts there). */
  operations: number;
  largestBatch: number;
  staleReruns: number;
  /**
   * Batches that failed for one operation's sake and ran again one operation per transaction:
   * counted here only, not in `batches`, where each of those runs counts once.
   */
  splitBatches: number;
  /** Operations a batch took but left to the next one, having reached `batchRowsMax`. */
  deferredOperations: number;
  /** Batches decided again because another stored one of their client references first. */
  refReruns: number;
  /**
   * Resting orders read from the books, in every attempt (first pages and further pages): a
   * deep sweep reads its depth, and a batch that runs again reads again.
   */
  bookRowsRead: number;
}

export class OrderEngine {
  readonly #db: Database;
  readonly #options: OrderEngineOptions;
  /** Operations waiting for a batch, per book, in arrival order; absent when none wait. */
  readonly #queues = new Map<string, Pending[]>();
  /** Arrival order across books: each queued operation's place. */
  readonly #arrival = new WeakMap<Pending, number>();
  #arrivals = 0;
  /** The batches running now; how many, their books and their operations all derive from it. */
  readonly #running = new Set<RunningBatch>();
  /** A timer that looks again once the running batches may count as held up. */
  #heldUpTimer: ReturnType<typeof setTimeout> | undefined;
  readonly stats: EngineStats = {
    batches: 0,
    operations: 0,
    largestBatch: 0,
    staleReruns: 0,
    splitBatches: 0,
    deferredOperations: 0,
    refReruns: 0,
    bookRowsRead: 0,
  };

  constructor(db: Database, options: OrderEngineOptions) {
    assert(options.batchOperationsMax >= 1, "a batch must take at least one operation");
    assert(options.batchRowsMax >= 1, "a batch must be allowed to fill at least one row");
    assert(options.batchesInFlightMax >= 1, "at least one batch must be able to run");
    this.#db = db;
    this.#options = options;
  }

  /**
   * Queues `op` on its book; resolves once the batch holding it has committed, or unavailable
   * by `deadline` (a `performance.now()` time; by default the operation timeout from now).
   */
  submit(
    op: BatchOp,
    deadline = performance.now() + this.#db.operationTimeoutMs,
    order?: SubmissionOrder,
  ): Promise<EngineAnswer> {
    return new Promise((resolve) => {
      const previous = order?.last;
      const pending: Pending = {
        op,
        resolve: (answer) => {
          pending.settled = true;
          pending.after = undefined;
          resolve(answer);
        },
        deadline,
        after: previous !== undefined && !previous.settled ? previous : undefined,
        inBatch: false,
        settled: false,
      };
      if (order !== undefined) {
        order.last = pending;
      }
      this.#arrival.set(pending, this.#arrivals++);
      const queue = this.#queues.get(op.sym);
      if (queue === undefined) {
        this.#queues.set(op.sym, [pending]);
      } else {
        queue.push(pending);
      }
      this.#startBatches();
    });
  }

  /** Operations waiting for a batch on book `sym` (not counting those in a running batch). */
  queued(sym: string): number {
    return this.#queues.get(sym)?.length ?? 0;
  }

  /** Operations waiting for a batch, over all books. */
  queuedTotal(): number {
    let total = 0;
    for (const queue of this.#queues.values()) {
      total += queue.length;
    }
    return total;
  }

  /** Operations in running batches, over all books. */
  runningTotal(): number {
    let total = 0;
    for (const batch of this.#running) {
      total += batch.items.length;
    }
    return total;
  }

  /** True if another batch may start now; else, if one may later, arranges to look again. */
  #mayStart(): boolean {
    if (this.#running.size === 0) {
      return true;
    }
    if (this.#running.size >= this.#options.batchesInFlightMax) {
      return false;
    }
    // Only beside batches that are all held up: the last of them to count as held up decides.
    let heldUpAt = 0;
    for (const batch of this.#running) {
      heldUpAt = Math.max(heldUpAt, this.#heldUpAt(batch));
    }
    const now = performance.now();
    if (now >= heldUpAt) {
      return true;
    }
    if (this.#heldUpTimer === undefined) {
      this.#heldUpTimer = setTimeout(() => {
        this.#heldUpTimer = undefined;
        this.#startBatches();
      }, heldUpAt - now);
    }
    return false;
  }

  /**
   * When a running batch's current attempt counts as held up: after `batchLockWaitMs` while it
   * does not hold its book locks yet (waiting for them or for a pool connection), after
   * `batchLongMs` in any case.
   */
  #heldUpAt(batch: RunningBatch): number {
    const long = batch.attemptStartedAt + this.#options.batchLongMs;
    return batch.locked
      ? long
      : Math.min(long, batch.attemptStartedAt + this.#options.batchLockWaitMs);
  }

  /** Starts batches while slots are free and idle books have work. */
  #startBatches(): void {
    while (this.#queues.size > 0 && this.#mayStart()) {
      const items = this.#takeBatch();
      if (items.length === 0) {
        return;
      }
      const batch: RunningBatch = {
        items,
        books: new Set(items.map((item) => item.op.sym)),
        attemptStartedAt: performance.now(),
        locked: false,
      };
      this.#running.add(batch);
      this.#runBatch(items, {
        onAttempt: () => {
          batch.attemptStartedAt = performance.now();
          batch.locked = false;
          // The attempt may be held up like the first: look again once it could count as held up
          // (after this call returns: the engine is not re-entered from inside a start).
          queueMicrotask(() => this.#startBatches());
        },
        onLocked: () => {
          batch.locked = true;
        },
        onCut: (kept) => {
          batch.books = new Set(kept.map((item) => item.op.sym));
          queueMicrotask(() => this.#startBatches());
        },
      }).catch((error) => {
        // #runBatch answers every operation itself; reaching here is a bug in it.
        this.#options.log(`order engine: batch failed: ${(error as Error)?.stack ?? error}`);
        for (const item of items) {
          item.resolve({ kind: "failed", error });
        }
      }).finally(() => {
        this.#running.delete(batch);
        this.#startBatches();
      });
    }
  }

  /** True if a running batch holds `sym`. */
  #bookRunning(sym: string): boolean {
    for (const batch of this.#running) {
      if (batch.books.has(sym)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The next batch: the queued operations of every book not in a running batch, in arrival
   * order, at most `batchOperationsMax` (a book's operations beyond that wait, in order).
   *
   * An operation whose connection's previous one is neither answered nor taken ahead of it here
   * waits ({@link SubmissionOrder}), and the operations of other connections behind it on its book
   * go ahead of it: they are concurrent with it (none is answered), so either order is one the
   * clients could have seen, and a connection waiting for a slow batch on one book holds up no
   * one else's orders on another (the fault suite's blackhole: a fresh order was first served
   * 5.1 s after the network healed while whole books waited behind such operations).
   */
  #takeBatch(): Pending[] {
    const max = this.#options.batchOperationsMax;
    const candidates: Pending[] = [];
    for (const [sym, queue] of this.#queues) {
      if (this.#bookRunning(sym)) {
        continue;
      }
      let count = 0;
      for (const item of queue) {
        if (count >= max) {
          break;
        }
        // Waits for a batch that is running: it cannot be taken now, whatever else is.
        if (item.after?.inBatch === true && !item.after.settled) {
          continue;
        }
        candidates.push(item);
        count++;
      }
    }
    candidates.sort((a, b) => this.#arrival.get(a)! - this.#arrival.get(b)!);
    const batch: Pending[] = [];
    const taken = new Set<Pending>();
    for (const item of candidates) {
      if (batch.length >= max) {
        break;
      }
      const after = item.after;
      if (after !== undefined && !after.settled && !taken.has(after)) {
        // Its connection's previous operation is queued and was not taken ahead of it.
        continue;
      }
      batch.push(item);
      taken.add(item);
    }
    for (const sym of new Set(batch.map((item) => item.op.sym))) {
      const rest = this.#queues.get(sym)!.filter((item) => !taken.has(item));
      if (rest.length === 0) {
        this.#queues.delete(sym);
      } else {
        this.#queues.set(sym, rest);
      }
    }
    for (const item of batch) {
      item.inBatch = true;
    }
    return batch;
  }

  async #runBatch(all: readonly Pending[], hooks: AttemptHooks): Promise<void> {
    // Operations that waited in their queue past their deadline are answered without running:
    // nothing of them happened, and running them could not be answered in time.
    const now = performance.now();
    const reserve = this.#db.commitResolveMs;
    const batch: Pending[] = [];
    for (const item of all) {
      if (item.deadline - reserve <= now) {
        item.resolve({
          kind: "failed",
          error: new DeadlineError("The operation waited too long for its book"),
        });
      } else {
        batch.push(item);
      }
    }
    if (batch.length === 0) {
      return;
    }
    const resolveDeadline = Math.min(...batch.map((item) => item.deadline));
    let report: BatchReport;
    try {
      report = await this.#attempt(batch.map((item) => item.op), {
        ...hooks,
        deadline: resolveDeadline - reserve,
        resolveDeadline,
      });
    } catch (error) {
      if (error instanceof BatchCutError) {
        // Rolled back, nothing written: what the decision left to the next batch goes back to
        // its queues now, and this batch runs again with its decided operations and their
        // books only, so that a deep sweep holds no other book's lock while it runs.
        const rest = batch.slice(error.decided);
        this.stats.deferredOperations += rest.length;
        this.#requeue(rest);
        hooks.onCut(batch.slice(0, error.decided));
        await this.#runBatch(batch.slice(0, error.decided), hooks);
        return;
      }
      if (batch.length > 1 && splittable(error)) {
        // Our own bug, or one bad operation: never let it take its neighbours down.
        this.stats.splitBatches++;
        this.#options.log(
          `order engine: batch of ${batch.length} failed (${(error as Error)?.message}); ` +
            "running its operations one per transaction",
        );
        // Counted as split only: each of its operations is counted as the batch it runs in.
        for (const item of batch) {
          await this.#runBatch([item], hooks);
        }
        return;
      }
      for (const item of batch) {
        item.resolve({ kind: "failed", error });
      }
      this.#count(batch.length);
      return;
    }
    // Committed: answers first, then the bookkeeping, which must never change them.
    const decided = report.outcomes.length;
    batch.slice(0, decided).forEach((item, index) => item.resolve(report.outcomes[index]!));
    if (decided < batch.length) {
      this.stats.deferredOperations += batch.length - decided;
      this.#requeue(batch.slice(decided));
    }
    this.#count(decided);
    this.#observe(() => this.#options.observer?.fills?.(report));
  }

  /** Counts a batch that ran to its end (committed, or failed as a whole) and what it decided. */
  #count(size: number): void {
    this.stats.batches++;
    this.stats.operations += size;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, size);
    this.#observe(() => this.#options.observer?.batch?.(size));
  }

  /**
   * Puts operations a batch did not decide back at the heads of their books' queues, in order.
   * Each book's share of them is the tail of what the batch took from that book's head, and
   * everything queued since arrived later (but operations left waiting for their connection's
   * earlier ones, which may have arrived before: `#takeBatch` orders by arrival anyway). The batch still holds these books, so no other batch can take them before it ends.
   */
  #requeue(items: readonly Pending[]): void {
    const bySym = new Map<string, Pending[]>();
    for (const item of items) {
      item.inBatch = false;
      const list = bySym.get(item.op.sym) ?? [];
      list.push(item);
      bySym.set(item.op.sym, list);
    }
    for (const [sym, list] of bySym) {
      this.#queues.set(sym, [...list, ...(this.#queues.get(sym) ?? [])]);
    }
  }

  /** Runs an observer; a throw is logged and counted, never passed on. */
  #observe(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#options.log(`order engine: observer failed: ${(error as Error)?.stack ?? error}`);
      try {
        this.#options.observer?.failure?.(error);
      } catch {
        // Counting failed too: the log line above is what is left.
      }
    }
  }

  /** One batch transaction, run again (bounded) while others keep changing a balance it read. */
  async #attempt(
    ops: readonly BatchOp[],
    hooks: AttemptHooks & { deadline: number; resolveDeadline: number },
  ): Promise<BatchReport> {
    let lockFirst: readonly string[] = [];
    for (let rerun = 0;; rerun++) {
      let decidedAccounts: readonly string[] = [];
      try {
        return await runBookBatch(this.#db, ops, {
          rowsMax: this.#options.batchRowsMax,
          restartOnCut: true,
          lockAccountsFirst: lockFirst,
          deadline: hooks.deadline,
          resolveDeadline: hooks.resolveDeadline,
          onAttempt: hooks.onAttempt,
          onLocked: hooks.onLocked,
          onRowsRead: (rows) => {
            this.stats.bookRowsRead += rows;
            this.#observe(() => this.#options.observer?.rowsRead?.(rows));
          },
          onDecided: (accounts) => {
            decidedAccounts = accounts;
          },
        });
      } catch (error) {
        if (isRefTaken(error) && rerun < this.#db.retriesMax) {
          // A batch on another book (or in another process) stored one of this batch's client
          // references first: deciding again reads it and answers that order.
          this.stats.refReruns++;
          continue;
        }
        if (!isStaleBalance(error) || rerun >= this.#db.retriesMax) {
          throw error;
        }
        this.stats.staleReruns++;
        this.#observe(() => this.#options.observer?.retry?.());
        // Lock what this attempt needed right after the book locks next time: those balances
        // can then not change between read and apply.
        lockFirst = [...new Set([...lockFirst, ...decidedAccounts])];
      }
    }
  }
}

/** What a batch's attempts tell the engine: when each starts, and when it holds its book locks. */
interface AttemptHooks {
  onAttempt: () => void;
  onLocked: () => void;
  /** The batch keeps only these operations (a cut sent the rest back to their queues). */
  onCut: (kept: readonly Pending[]) => void;
}

/**
 * True if a failed batch may run again one operation per transaction: only when a statement
 * failed on a live connection before anything could have committed, for a reason that one
 * operation may cause (a CHECK violation, our own bug; or balances that kept changing under a
 * large batch). Never after a COMMIT was sent (committed, or in doubt), and never for the
 * database's own trouble, which would fail each one alike.
 */
function splittable(error: unknown): boolean {
  if (error instanceof CommittedAnswerError || error instanceof OutcomeUnknownError) {
    return false;
  }
  return !isUnavailable(error) && !isRetryable(error) && !isTimeout(error);
}
