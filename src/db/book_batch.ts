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
 *   2. `exchange_apply_batch(...)` (migrations/005_apply_batch.sql): the account locks, all at
 *      once in the global order, the balance check, ids for the accepted orders, every write;
 *      COMMIT sent right behind it.
 * If a balance changed between the two, the call raises `stale_balance` and the batch runs again;
 * that run locks the accounts it saw in round trip 1 (`lockAccountsFirst`), so it cannot be
 * overtaken a second time by the same accounts.
 */
import { assert } from "../exchange/assert.ts";
import {
  type BatchDecision,
  type BatchOp,
  decideBatch,
  isNewOrderRef,
  NEW_ORDER_BASE,
} from "../exchange/book_batch.ts";
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Refusal } from "../exchange/refusal.ts";
import { type BatchWrites, batchWrites } from "../exchange/batch_writes.ts";
import { readNextPage, type ReadState, readUnderLock } from "./book_batch_read.ts";
import type { ExecutionView } from "./orders.ts";
import type { Database, ReservedSql } from "./database.ts";
import { CommittedAnswerError, done, inTransaction } from "./transaction.ts";

export type { ExecutionView };

/** The answer of one operation of the batch, after COMMIT. */
export type BatchOpOutcome =
  | { readonly kind: "opened"; readonly id: bigint }
  | {
    readonly kind: "canceled";
    readonly shares: string;
    readonly time: string;
    readonly executions: readonly ExecutionView[];
  }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** What one committed batch did, for answers and metrics. */
export interface BatchReport {
  readonly outcomes: readonly BatchOpOutcome[];
  readonly fills: number;
  readonly sharesTraded: Decimal[];
}

export interface BatchRunOptions {
  /** Lock these accounts in round trip 1 (ascending), after a stale-balance rerun. */
  readonly lockAccountsFirst: readonly string[];
  /** Called once round trip 1 has returned: the batch holds its book locks. */
  readonly onLocked?: () => void;
  /** Called with the accounts the decision touches, before they are locked. */
  readonly onDecided?: (accounts: readonly string[]) => void;
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
    let decision = decideBatch(read.input);
    while (decision.kind === "need_page") {
      await readNextPage(tx, read, decision.sym, decision.side);
      decision = decideBatch(read.input);
    }
    const decided = decision;
    const writes = batchWrites([...read.input.books.keys()], decided);
    options.onDecided?.(writes.accounts);
    const applied = applyWrites(tx, writes);
    return { deferred: applied.then((ids) => done({ decided, ids, read })) };
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

/** Order refs for SQL: stored ids as they are, the batch's n-th new order as -(n+1). */
function sqlRef(ref: bigint): string {
  return isNewOrderRef(ref) ? (-(ref - NEW_ORDER_BASE + 1n)).toString() : ref.toString();
}

/**
 * The parameters of `exchange_apply_batch` (migrations/005_apply_batch.sql): the one place that
 * knows how the typed writes become SQL arrays (decimals as exact text, new orders' refs as
 * negative numbers).
 */
function applyParameters(writes: BatchWrites) {
  const text = formatDecimal;
  const { reliedBalances: relied, newOrders: orders, storedOrders: stored, executions } = writes;
  const { cash, positionCredits: credits, positionDebits: debits } = writes;
  return {
    syms: [...writes.syms],
    accounts: [...writes.accounts],
    reliedIds: relied.map((r) => r.accountId),
    reliedBalances: relied.map((r) => text(r.balance)),
    orderSyms: orders.map((o) => o.sym),
    orderAccounts: orders.map((o) => o.accountId),
    orderAmounts: orders.map((o) => text(o.amount)),
    orderLimits: orders.map((o) => text(o.limit)),
    orderOpen: orders.map((o) => text(o.open)),
    storedIds: stored.map((o) => o.id.toString()),
    storedOpen: stored.map((o) => text(o.open)),
    storedCanceled: stored.map((o) => text(o.canceled)),
    buyRefs: executions.map((x) => sqlRef(x.buyRef)),
    sellRefs: executions.map((x) => sqlRef(x.sellRef)),
    executionShares: executions.map((x) => text(x.shares)),
    executionPrices: executions.map((x) => text(x.price)),
    cashIds: cash.map((c) => c.accountId),
    cashDeltas: cash.map((c) => text(c.delta)),
    creditIds: credits.map((p) => p.accountId),
    creditSyms: credits.map((p) => p.sym),
    creditDeltas: credits.map((p) => text(p.delta)),
    debitIds: debits.map((p) => p.accountId),
    debitSyms: debits.map((p) => p.sym),
    debitDeltas: debits.map((p) => text(p.delta)),
  };
}

/**
 * Sends `exchange_apply_batch(...)` at once (`.execute()`), so that the helper's COMMIT follows
 * it in the same round trip. Resolves with the ids of the new orders, in arrival order.
 */
function applyWrites(tx: ReservedSql, writes: BatchWrites): Promise<bigint[]> {
  const p = applyParameters(writes);
  return tx`
    SELECT exchange_apply_batch(
      ${p.syms}::text[], ${p.accounts}::text[],
      ${p.reliedIds}::text[], ${p.reliedBalances}::numeric[],
      ${p.orderSyms}::text[], ${p.orderAccounts}::text[], ${p.orderAmounts}::numeric[],
      ${p.orderLimits}::numeric[], ${p.orderOpen}::numeric[],
      ${p.storedIds}::bigint[], ${p.storedOpen}::numeric[], ${p.storedCanceled}::numeric[],
      ${p.buyRefs}::bigint[], ${p.sellRefs}::bigint[],
      ${p.executionShares}::numeric[], ${p.executionPrices}::numeric[],
      ${p.cashIds}::text[], ${p.cashDeltas}::numeric[],
      ${p.creditIds}::text[], ${p.creditSyms}::text[], ${p.creditDeltas}::numeric[],
      ${p.debitIds}::text[], ${p.debitSyms}::text[], ${p.debitDeltas}::numeric[]) AS ids`
    .execute()
    .then((rows) => {
      const drawn = (rows[0]!.ids as string[]).map((id) => BigInt(id));
      assert(
        drawn.length === writes.newOrders.length,
        "exchange_apply_batch drew the wrong number of ids",
      );
      return drawn;
    });
}

/** The answers of a committed batch. */
function report(decision: BatchDecision, ids: readonly bigint[], read: ReadState): BatchReport {
  const outcomes: BatchOpOutcome[] = decision.results.map((result) => {
    switch (result.kind) {
      case "opened":
        return { kind: "opened", id: ids[result.ordinal]! };
      case "refused":
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
