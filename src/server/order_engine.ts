/**
 * The order engine: one queue per book (symbol). Orders and cancels join their book's queue; a
 * runner takes everything queued (up to `batchOperationsMax`) and runs it as ONE transaction
 * (src/db/book_batch.ts). While a batch runs, the next one accumulates, so under load batches
 * grow by themselves, and at low load an operation starts at once, alone, without waiting.
 *
 * Failures: a deadlock or serialization failure reruns the batch (the transaction helper); a
 * balance changed by another book between read and lock reruns it with those accounts locked
 * first; any other error (a CHECK violation: our own bug) runs the batch's operations again one
 * per transaction, in arrival order, so that one bad operation never takes its neighbours down.
 * A database that cannot be reached fails the whole batch: its operations are answered with
 * the error and never retried (a COMMIT may have been in flight).
 */
import { assert } from "../exchange/assert.ts";
import type { BatchOp } from "../exchange/book_batch.ts";
import type { BatchOpOutcome, BatchReport } from "../db/book_batch.ts";
import { runBookBatch } from "../db/book_batch.ts";
import type { Database } from "../db/database.ts";
import { isRetryable, isStaleBalance, isTimeout, isUnavailable } from "../db/errors.ts";

/** What an operation submitted to the engine gets back. */
export type EngineAnswer = BatchOpOutcome | { readonly kind: "failed"; readonly error: unknown };

/** Observers of the engine's work (metrics); every method is optional. */
export interface EngineObserver {
  batch?(size: number): void;
  fills?(report: BatchReport): void;
  retry?(): void;
}

export interface OrderEngineOptions {
  /** Most operations one batch (one transaction) takes from its book's queue. */
  batchOperationsMax: number;
  log: (line: string) => void;
  observer?: EngineObserver;
}

interface Pending {
  readonly op: BatchOp;
  readonly resolve: (answer: EngineAnswer) => void;
}

/** Counts of what the engine did, for the benchmark, the stress test and tests. */
export interface EngineStats {
  batches: number;
  operations: number;
  largestBatch: number;
  staleReruns: number;
  splitBatches: number;
}

export class OrderEngine {
  readonly #db: Database;
  readonly #options: OrderEngineOptions;
  /** Operations waiting for their book's next batch, per symbol; absent when idle. */
  readonly #queues = new Map<string, Pending[]>();
  readonly stats: EngineStats = {
    batches: 0,
    operations: 0,
    largestBatch: 0,
    staleReruns: 0,
    splitBatches: 0,
  };

  constructor(db: Database, options: OrderEngineOptions) {
    assert(options.batchOperationsMax >= 1, "a batch must take at least one operation");
    this.#db = db;
    this.#options = options;
  }

  /** Queues `op` on the book of `sym`; resolves once the batch holding it has committed. */
  submit(sym: string, op: BatchOp): Promise<EngineAnswer> {
    return new Promise((resolve) => {
      const queue = this.#queues.get(sym);
      if (queue !== undefined) {
        // A batch of this book is running: join the next one.
        queue.push({ op, resolve });
        return;
      }
      this.#queues.set(sym, [{ op, resolve }]);
      this.#runBook(sym);
    });
  }

  /** Operations waiting for the next batch of `sym` (not counting a batch already running). */
  queued(sym: string): number {
    return this.#queues.get(sym)?.length ?? 0;
  }

  /** Operations waiting for the next batch of their book, over all books. */
  queuedTotal(): number {
    let total = 0;
    for (const queue of this.#queues.values()) {
      total += queue.length;
    }
    return total;
  }

  /** True while a batch of `sym` runs or waits to run. */
  busy(sym: string): boolean {
    return this.#queues.has(sym);
  }

  /** Runs batches of `sym` until its queue is empty; one at a time per book in this process. */
  async #runBook(sym: string): Promise<void> {
    for (;;) {
      const queue = this.#queues.get(sym)!;
      if (queue.length === 0) {
        this.#queues.delete(sym);
        return;
      }
      const batch = queue.splice(0, this.#options.batchOperationsMax);
      try {
        await this.#runBatch(sym, batch);
      } catch (error) {
        // #runBatch answers every operation itself; reaching here is a bug in it.
        this.#options.log(
          `order engine: batch of ${sym} failed: ${(error as Error)?.stack ?? error}`,
        );
        for (const item of batch) {
          item.resolve({ kind: "failed", error });
        }
      }
    }
  }

  async #runBatch(sym: string, batch: readonly Pending[]): Promise<void> {
    this.stats.batches++;
    this.stats.operations += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    this.#options.observer?.batch?.(batch.length);
    let report: BatchReport;
    try {
      report = await this.#attempt(sym, batch.map((item) => item.op));
    } catch (error) {
      if (batch.length > 1 && !isUnavailable(error) && !isRetryable(error) && !isTimeout(error)) {
        // Our own bug, or one bad operation: never let it take its neighbours down.
        this.stats.splitBatches++;
        this.#options.log(
          `order engine: batch of ${batch.length} on ${sym} failed (${
            (error as Error)?.message
          }); ` +
            "running its operations one per transaction",
        );
        for (const item of batch) {
          await this.#runBatch(sym, [item]);
        }
        return;
      }
      for (const item of batch) {
        item.resolve({ kind: "failed", error });
      }
      return;
    }
    this.#options.observer?.fills?.(report);
    batch.forEach((item, index) => item.resolve(report.outcomes[index]!));
  }

  /** One batch transaction, run again (bounded) while another book keeps changing a balance. */
  async #attempt(sym: string, ops: readonly BatchOp[]): Promise<BatchReport> {
    let lockFirst: readonly string[] = [];
    for (let rerun = 0;; rerun++) {
      let decidedAccounts: readonly string[] = [];
      try {
        return await runBookBatch(
          this.#db,
          sym,
          ops,
          { lockAccountsFirst: lockFirst },
          (accounts) => {
            decidedAccounts = accounts;
          },
        );
      } catch (error) {
        if (!isStaleBalance(error) || rerun >= this.#db.retriesMax) {
          throw error;
        }
        this.stats.staleReruns++;
        this.#options.observer?.retry?.();
        // Lock what this attempt needed right after the book lock next time: those balances
        // can then not change between read and apply.
        lockFirst = [...new Set([...lockFirst, ...decidedAccounts])];
      }
    }
  }
}
