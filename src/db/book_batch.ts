/**
 * One batch as one PostgreSQL transaction: the orders and cancels queued on one or more books,
 * decided in arrival order by src/exchange/book_batch.ts and applied set-based.
 *
 * Round trips: 2 when the first pages of the books suffice (one more per further page):
 *   1. BEGIN; the book locks (symbol rows `FOR UPDATE`, one statement, ascending) with the
 *      transaction time; then, under those locks, the first page of each side the batch's orders
 *      meet (one statement per side for all books), the balances of the accounts that buy, the
 *      positions of the accounts that sell, the orders named by cancels and their executions.
 *      Positions of a symbol and its order rows are written only under its lock, so what is read
 *      here cannot change until COMMIT; balances can (another batch may pay or charge the same
 *      account), and are verified in round trip 2.
 *   2. `exchange_apply_batch(...)` (migrations/005_apply_batch.sql, last replaced by 007): the
 *      account locks, all at once in the global order, the balance check, ids for the accepted
 *      orders, every write; COMMIT sent right behind it.
 * Between the two, the decision asks for further pages of a side as an order sweeps past the rows
 * read, and resumes where it stopped once it has them. It may also stop before the batch's last
 * operation (its rows bound): the report then answers only those it decided.
 * If a balance changed between the two, the call raises `stale_balance` and the batch runs again;
 * that run locks the accounts it saw in round trip 1 (`lockAccountsFirst`), so it cannot be
 * overtaken a second time by the same accounts.
 */
import { assert } from "../exchange/assert.ts";
import {
  type BatchDecision,
  type BatchOp,
  isNewOrderRef,
  NEW_ORDER_BASE,
} from "../exchange/batch_types.ts";
import { BatchDecider } from "../exchange/book_batch.ts";
import {
  type Decimal,
  decimalFromDatabase,
  formatDecimal,
  isPositive,
} from "../exchange/decimal.ts";
import type { Refusal } from "../exchange/refusal.ts";
import { type BatchWrites, batchWrites } from "../exchange/batch_writes.ts";
import { readNextPage, type ReadState, readUnderLock } from "./book_batch_read.ts";
import type { ExecutionView } from "./orders.ts";
import type { Database, Sql } from "./database.ts";
import { parseNumberArray, pgArray } from "./pg_array.ts";
import {
  CommittedAnswerError,
  done,
  inTransaction,
  OutcomeUnknownError,
  type TransactionIdentity,
} from "./transaction.ts";

export type { ExecutionView };

/** The answer of one operation of the batch, after COMMIT. */
export type BatchOpOutcome =
  | {
    readonly kind: "opened";
    readonly id: bigint;
    /** For an order with instructions beyond the specification's: its state right after it ran. */
    readonly detail?: OpenedView;
  }
  /** The order's reference is held by the account's order `id`, placed with the same values. */
  | { readonly kind: "repeat"; readonly id: bigint }
  | {
    readonly kind: "canceled";
    readonly shares: string;
    readonly time: string;
    readonly executions: readonly ExecutionView[];
  }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** An opened order's rest canceled at once (if any) and its fills, as its answer shows them. */
export interface OpenedView {
  /** Open shares, or undefined when nothing rests. */
  readonly open: string | undefined;
  readonly canceled: { readonly shares: string; readonly time: string } | undefined;
  readonly executions: readonly ExecutionView[];
}

/** What one committed batch did, for answers and metrics. */
export interface BatchReport {
  /**
   * The answers of the operations decided, a prefix of the batch's: the rest were not decided
   * (the batch reached its rows bound) and nothing of them happened.
   */
  readonly outcomes: readonly BatchOpOutcome[];
  readonly fills: number;
  readonly sharesTraded: Decimal[];
}

export interface BatchRunOptions {
  /**
   * Resting orders the batch may fill before it stops deciding: the operations after the one
   * that crossed it are left out of the report (`BatchReport.outcomes` is shorter) for the next
   * batch.
   */
  readonly rowsMax: number;
  /** Lock these accounts in round trip 1 (ascending), after a stale-balance rerun. */
  readonly lockAccountsFirst: readonly string[];
  /** When the batch must have committed (a `performance.now()` time); see transaction.ts. */
  readonly deadline?: number;
  /** When an unanswered COMMIT must have been resolved. */
  readonly resolveDeadline?: number;
  /**
   * Called as every attempt starts (deadlock reruns included), before it waits for a pool
   * connection and its locks.
   */
  readonly onAttempt?: () => void;
  /** Called once round trip 1 has returned: the batch holds its book locks. */
  readonly onLocked?: () => void;
  /**
   * Called with the resting orders each read of the books returned (round trip 1's first pages,
   * then each further page), in every attempt, a rolled-back one included.
   */
  readonly onRowsRead?: (rows: number) => void;
  /** Called with the accounts the decision touches, before they are locked. */
  readonly onDecided?: (accounts: readonly string[]) => void;
  /**
   * Roll back, having written nothing, when the decision leaves operations to the next batch
   * that are on books no decided operation is on: their book locks would otherwise be held,
   * for nothing, until this batch commits (a deep sweep: seconds). The batch is then run again
   * with its decided operations only ({@link BatchCutError}).
   */
  readonly restartOnCut?: boolean;
}

/**
 * Thrown (before anything is written) when a batch's decision left operations to the next batch
 * on books it does not otherwise need: run the first `decided` operations alone, and queue the
 * rest at once.
 */
export class BatchCutError extends Error {
  override name = "BatchCutError";
  constructor(readonly decided: number) {
    super(`the batch decided ${decided} operations; the rest go to the next batch`);
  }
}

/** Runs the batch as one transaction (with the helper's deadlock retries) and returns answers. */
export function runBookBatch(
  db: Database,
  ops: readonly BatchOp[],
  options: BatchRunOptions,
): Promise<BatchReport> {
  return inTransaction(db, async (tx) => {
    const read = await readUnderLock(tx, ops, options.lockAccountsFirst);
    options.onLocked?.();
    options.onRowsRead?.(firstPageRows(read));
    // The decision resumes where it stopped after each page: its work is linear in the rows read.
    const decider = new BatchDecider(read.input, { rowsMax: options.rowsMax });
    let decision = decider.run();
    while (decision.kind === "need_page") {
      // A sweep already past the rows bound leaves the rest to the next batch: let their books go
      // now, not after the rest of the sweep is read (a 60,000-row sweep: a second or more).
      cutIfOtherBooksLeft(ops, decider.decidedAtMost(), options);
      const page = await readNextPage(tx, read, decision.sym, decision.side);
      options.onRowsRead?.(page.rows.length);
      decider.addPage(decision.sym, decision.side, page.rows, page.complete);
      decision = decider.run();
    }
    const decided = decision;
    cutIfOtherBooksLeft(ops, decided.results.length, options);
    const long = decided.executions.length >= LONG_BATCH_EXECUTIONS;
    if (long) {
      await yieldToEventLoop();
    }
    const writes = batchWrites([...read.input.books.keys()], decided);
    options.onDecided?.(writes.lockIds);
    const parameters = await applyParameters(writes, long ? yieldToEventLoop : undefined);
    // Sent before this callback returns: the helper's COMMIT must follow it, never precede it.
    const applied = applyWrites(tx, writes, parameters);
    return {
      deferred: applied.then((ids) => done({ decided, ids, read })),
      // The COMMIT went unanswered and PostgreSQL says it committed: the ids are read back.
      recover: async (sql: Sql, identity: TransactionIdentity) => ({
        decided,
        ids: await recoverIds(sql, identity, read, writes, decided),
        read,
      }),
    };
  }, {
    deadline: options.deadline,
    resolveDeadline: options.resolveDeadline,
    onAttempt: options.onAttempt,
  }).then((outcome) => {
    // A batch never refuses as a whole: refusals are per operation, inside the report.
    assert(outcome.ok, "a batch transaction was refused as a whole");
    // Committed: from here on a failure must not claim that the batch was rolled back.
    try {
      return report(outcome.value.decided, outcome.value.ids, outcome.value.read);
    } catch (error) {
      throw new CommittedAnswerError(error);
    }
  });
}

/** The resting orders round trip 1 read, over every book and side. */
function firstPageRows(read: ReadState): number {
  let rows = 0;
  for (const book of read.input.books.values()) {
    rows += book.buys.rows.length + book.sells.rows.length;
  }
  return rows;
}

/**
 * Throws {@link BatchCutError} when `restartOnCut` is set and only the first `decided` of `ops`
 * are (or will be) decided while some of the rest are on books none of those is on.
 */
function cutIfOtherBooksLeft(
  ops: readonly BatchOp[],
  decided: number | undefined,
  options: BatchRunOptions,
): void {
  if (options.restartOnCut !== true || decided === undefined || decided >= ops.length) {
    return;
  }
  const needed = new Set(ops.slice(0, decided).map((op) => op.sym));
  if (ops.slice(decided).some((op) => !needed.has(op.sym))) {
    throw new BatchCutError(decided);
  }
}

/**
 * Executions from which a batch's writes are built and sent in steps, the event loop running
 * between them. A 60,000-row sweep spent 220-330 ms in one task from the end of its decision to
 * its apply call (its settlement, the writes, a dozen 60,000-element array literals, their
 * serialization, and the garbage collection they caused), and every other book's answers waited
 * behind it (issue 19: the other book's p99 during the sweep was 150-270 ms).
 */
const LONG_BATCH_EXECUTIONS = 4096;

/** Lets every task that is ready run (another book's answers, its batch's next round trip). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Order refs for SQL: stored ids as they are, the batch's n-th new order as -(n+1). */
function sqlRef(ref: bigint): string {
  return isNewOrderRef(ref) ? (-(ref - NEW_ORDER_BASE + 1n)).toString() : ref.toString();
}

/**
 * The parameters of `exchange_apply_batch`, each named as the function names it without `p_`
 * (its newest definition: migrations/008_order_instructions.sql): the one place that knows
 * how the typed writes become SQL arrays (decimals as exact text, new orders' refs as negative
 * numbers, a missing client reference as '').
 */
function applyColumns(writes: BatchWrites) {
  const { checkedBalances, newOrders, changedOrders, executions, cash } = writes;
  const { positionCredits: credits, positionDebits: debits } = writes;
  const text = formatDecimal;
  return {
    syms: () => pgArray(writes.syms),
    lockIds: () => pgArray(writes.lockIds),
    checkIds: () => pgArray(checkedBalances.map((c) => c.accountId)),
    checkBalances: () => pgArray(checkedBalances.map((c) => text(c.balance))),
    newSyms: () => pgArray(newOrders.map((o) => o.sym)),
    newAccounts: () => pgArray(newOrders.map((o) => o.accountId)),
    newAmounts: () => pgArray(newOrders.map((o) => text(o.amount))),
    newLimits: () => pgArray(newOrders.map((o) => text(o.limit))),
    newOpen: () => pgArray(newOrders.map((o) => text(o.open))),
    newCanceled: () => pgArray(newOrders.map((o) => text(o.canceled))),
    newTifs: () => pgArray(newOrders.map((o) => o.tif)),
    newStps: () => pgArray(newOrders.map((o) => o.stp)),
    newRefs: () => pgArray(newOrders.map((o) => o.ref ?? "")),
    changedIds: () => pgArray(changedOrders.map((o) => o.id.toString())),
    changedOpen: () => pgArray(changedOrders.map((o) => text(o.open))),
    changedCanceled: () => pgArray(changedOrders.map((o) => text(o.canceled))),
    execBuys: () => pgArray(executions.map((x) => sqlRef(x.buyRef))),
    execSells: () => pgArray(executions.map((x) => sqlRef(x.sellRef))),
    execShares: () => pgArray(executions.map((x) => text(x.shares))),
    execPrices: () => pgArray(executions.map((x) => text(x.price))),
    cashIds: () => pgArray(cash.map((c) => c.accountId)),
    cashDeltas: () => pgArray(cash.map((c) => text(c.delta))),
    creditIds: () => pgArray(credits.map((p) => p.accountId)),
    creditSyms: () => pgArray(credits.map((p) => p.sym)),
    creditDeltas: () => pgArray(credits.map((p) => text(p.delta))),
    debitIds: () => pgArray(debits.map((p) => p.accountId)),
    debitSyms: () => pgArray(debits.map((p) => p.sym)),
    debitDeltas: () => pgArray(debits.map((p) => text(p.delta))),
  };
}

type ApplyParameters = { [K in keyof ReturnType<typeof applyColumns>]: string };

/**
 * The parameters as SQL array literals, built one after another; `between`, when given, is
 * awaited after each (a long batch lets the event loop run: {@link LONG_BATCH_EXECUTIONS}).
 */
async function applyParameters(
  writes: BatchWrites,
  between?: () => Promise<void>,
): Promise<ApplyParameters> {
  const columns = applyColumns(writes);
  const built: Partial<ApplyParameters> = {};
  for (const name of Object.keys(columns) as Array<keyof ApplyParameters>) {
    built[name] = columns[name]();
    if (between !== undefined) {
      await between();
    }
  }
  return built as ApplyParameters;
}

/**
 * Sends `exchange_apply_batch(...)` at once (`.execute()`), so that the helper's COMMIT follows
 * it in the same round trip. Resolves with the ids of the new orders, in arrival order.
 *
 * The call runs only inside a transaction that already has an id (the helper's identity read
 * gave it one right after BEGIN): a session that is not the batch's, for example one a driver
 * reconnected in its place, would run it on its own, outside the book locks. It then writes
 * nothing and answers NULL, which fails the batch before the COMMIT behind it can matter.
 */
function applyWrites(tx: Sql, writes: BatchWrites, p: ApplyParameters): Promise<bigint[]> {
  return tx`
    SELECT CASE WHEN pg_current_xact_id_if_assigned() IS NOT NULL THEN exchange_apply_batch(
      ${p.syms}::text[], ${p.lockIds}::text[],
      ${p.checkIds}::text[], ${p.checkBalances}::numeric[],
      ${p.newSyms}::text[], ${p.newAccounts}::text[], ${p.newAmounts}::numeric[],
      ${p.newLimits}::numeric[], ${p.newOpen}::numeric[], ${p.newCanceled}::numeric[],
      ${p.newTifs}::text[], ${p.newStps}::text[], ${p.newRefs}::text[],
      ${p.changedIds}::bigint[], ${p.changedOpen}::numeric[], ${p.changedCanceled}::numeric[],
      ${p.execBuys}::bigint[], ${p.execSells}::bigint[],
      ${p.execShares}::numeric[], ${p.execPrices}::numeric[],
      ${p.cashIds}::text[], ${p.cashDeltas}::numeric[],
      ${p.creditIds}::text[], ${p.creditSyms}::text[], ${p.creditDeltas}::numeric[],
      ${p.debitIds}::text[], ${p.debitSyms}::text[], ${p.debitDeltas}::numeric[])::text
    END AS ids`
    .execute()
    .then((rows) => {
      const ids = rows[0]!.ids as string | null;
      assert(ids !== null, "exchange_apply_batch ran outside the batch's transaction");
      const drawn = parseNumberArray(ids).map((id) => BigInt(id));
      assert(
        drawn.length === writes.newOrders.length,
        "exchange_apply_batch drew the wrong number of ids",
      );
      return drawn;
    });
}

/**
 * The ids a committed batch drew, read back after its COMMIT went unanswered: its new orders
 * are the rows after round trip 1's id floor that carry its transaction id (migrations/006),
 * in id order, which is arrival order. Each must be exactly the order the decision placed, and
 * each canceled order must be canceled: otherwise the transaction PostgreSQL called committed is
 * not this batch (an id reused after a failover, see commit_resolution.ts), and the outcome is
 * unknown rather than guessed.
 */
async function recoverIds(
  sql: Sql,
  identity: TransactionIdentity,
  read: ReadState,
  writes: BatchWrites,
  decision: BatchDecision,
): Promise<bigint[]> {
  const canceled = decision.results.flatMap((r) => r.kind === "canceled" ? [r.orderId] : []);
  const [placed, notCanceled] = await Promise.all([
    writes.newOrders.length === 0 ? Promise.resolve([]) : sql`
      SELECT id::text AS id, account_id, sym, amount::text AS amount, limit_price::text AS limit
      FROM orders WHERE id > ${read.idFloor}::bigint AND created_xact = ${identity.xid}::xid8
      ORDER BY id`.execute(),
    canceled.length === 0 ? Promise.resolve([]) : sql`
      SELECT id FROM orders WHERE id = ANY(${pgArray(canceled)}::bigint[])
      AND canceled_at IS NULL`.execute(),
  ]);
  const same = placed.length === writes.newOrders.length && notCanceled.length === 0 &&
    writes.newOrders.every((order, i) => {
      const row = placed[i]!;
      return row.account_id === order.accountId && row.sym === order.sym &&
        formatDecimal(decimalFromDatabase(row.amount as string)) === formatDecimal(order.amount) &&
        formatDecimal(decimalFromDatabase(row.limit as string)) === formatDecimal(order.limit);
    });
  if (!same) {
    throw new OutcomeUnknownError(
      `transaction ${identity.xid} is committed but its writes are not this batch's`,
    );
  }
  return placed.map((row) => BigInt(row.id as string));
}

/** The answers of a committed batch. */
function report(decision: BatchDecision, ids: readonly bigint[], read: ReadState): BatchReport {
  /** The id of an order ref: stored ids as they are, the batch's new orders by their ordinal. */
  const idOf = (ref: bigint) => isNewOrderRef(ref) ? ids[Number(ref - NEW_ORDER_BASE)]! : ref;
  const outcomes: BatchOpOutcome[] = decision.results.map((result) => {
    switch (result.kind) {
      case "opened": {
        const id = ids[result.ordinal]!;
        if (result.detail === undefined) {
          return { kind: "opened", id };
        }
        const { open, canceled, executionsFrom, executionsTo } = result.detail;
        return {
          kind: "opened",
          id,
          detail: {
            open: isPositive(open) ? formatDecimal(open) : undefined,
            canceled: isPositive(canceled)
              ? { shares: formatDecimal(canceled), time: read.now }
              : undefined,
            executions: decision.executions.slice(executionsFrom, executionsTo).map((x) => ({
              shares: formatDecimal(x.shares),
              price: formatDecimal(x.price),
              time: read.now,
            })),
          },
        };
      }
      case "repeat":
        return { kind: "repeat", id: idOf(result.order) };
      case "refused":
        if (result.refusal.kind === "ref_mismatch") {
          return {
            kind: "refused",
            refusal: { ...result.refusal, orderId: idOf(result.refusal.orderId) },
          };
        }
        return result;
      case "canceled": {
        const executions = [...(read.storedExecutions.get(result.orderId) ?? [])];
        for (const execution of decision.executions.slice(0, result.executionsBefore)) {
          if (execution.buyRef === result.orderId || execution.sellRef === result.orderId) {
            executions.push({
              shares: formatDecimal(execution.shares),
              price: formatDecimal(execution.price),
              time: read.now,
            });
          }
        }
        return {
          kind: "canceled",
          shares: formatDecimal(result.shares),
          time: read.now,
          executions,
        };
      }
    }
  });
  return {
    outcomes,
    fills: decision.executions.length,
    sharesTraded: decision.executions.map((x) => x.shares),
  };
}
