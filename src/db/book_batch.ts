/**
 * One batch of a book as one PostgreSQL transaction: every order and cancel queued for one
 * symbol, decided in arrival order by src/exchange/book_batch.ts and applied set-based.
 *
 * Round trips: 2 when the first pages of the book suffice (one more per further page):
 *   1. BEGIN; the book lock (symbol row `FOR UPDATE`) with the transaction time; then, under
 *      that lock, the first page of each side the batch's orders meet, the balances of the
 *      accounts that buy, the positions of the accounts that sell, the orders named by cancels
 *      and their executions. Positions of a symbol and its order rows are written only under its
 *      lock, so what is read here cannot change until COMMIT; balances can (another book's
 *      batch may pay or charge the same account), and are verified in round trip 2.
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
  type CancelTarget,
  decideBatch,
  isNewOrderRef,
  NEW_ORDER_BASE,
  type StoredSide,
} from "../exchange/book_batch.ts";
import {
  type Decimal,
  decimalFromDatabase,
  formatDecimal,
  isPositive,
  negate,
} from "../exchange/decimal.ts";
import type { RestingOrder, Side } from "../exchange/matching.ts";
import type { Refusal } from "../exchange/refusal.ts";
import type { Database, ReservedSql } from "./database.ts";
import { CommittedAnswerError, done, inTransaction } from "./transaction.ts";

/** Resting orders read per side in round trip 1, before those the batch's orders add. */
export const FIRST_BOOK_PAGE_ORDERS = 8;
/** Further rows per side for each order of the batch that meets it (most fill 1-3 orders). */
export const BOOK_PAGE_ORDERS_PER_ORDER = 2;
/** Largest page read at once, when an order sweeps deep into the book. */
export const BOOK_PAGE_ORDERS_MAX = 1024;

/** An execution as a `<executed>` answer shows it. */
export interface ExecutionView {
  readonly shares: string;
  readonly price: string;
  readonly time: string;
}

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
}

/** Runs the batch as one transaction (with the helper's deadlock retries) and returns answers. */
export function runBookBatch(
  db: Database,
  sym: string,
  ops: readonly BatchOp[],
  options: BatchRunOptions,
  onDecided?: (accounts: readonly string[]) => void,
): Promise<BatchReport> {
  return inTransaction(db, async (tx) => {
    const read = await readUnderLock(tx, sym, ops, options.lockAccountsFirst);
    let decision = decideBatch(read.input);
    while (decision.kind === "need_page") {
      await readNextPage(tx, sym, read, decision.side);
      decision = decideBatch(read.input);
    }
    const decided = decision;
    const accounts = lockSet(decided);
    onDecided?.(accounts);
    const applied = applyDecision(tx, sym, decided, accounts);
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

/** Everything round trip 1 read, and the decision input built from it. */
interface ReadState {
  input: {
    sym: string;
    symbolExists: boolean;
    ops: readonly BatchOp[];
    balances: Map<string, Decimal>;
    positions: Map<string, Decimal>;
    buys: { rows: RestingOrder[]; complete: boolean };
    sells: { rows: RestingOrder[]; complete: boolean };
    cancelTargets: Map<bigint, CancelTarget>;
  };
  now: string;
  /** Stored executions of the orders named by cancels, oldest first. */
  storedExecutions: Map<bigint, ExecutionView[]>;
  pageSize: { buy: number; sell: number };
}

async function readUnderLock(
  tx: ReservedSql,
  sym: string,
  ops: readonly BatchOp[],
  lockFirst: readonly string[],
): Promise<ReadState> {
  const buyers = new Set<string>();
  const sellers = new Set<string>();
  const cancelIds: string[] = [];
  for (const op of ops) {
    if (op.kind === "cancel") {
      cancelIds.push(op.orderId.toString());
    } else if (op.side === "buy") {
      buyers.add(op.accountId);
    } else {
      sellers.add(op.accountId);
    }
  }
  const pageSize = {
    // Buys meet the sell side, sells the buy side.
    sell: buyers.size === 0 ? 0 : firstPageSize(ops, "buy"),
    buy: sellers.size === 0 ? 0 : firstPageSize(ops, "sell"),
  };
  const empty = Promise.resolve([] as Record<string, unknown>[]);
  const lockIds = [...new Set([...lockFirst, ...buyers])];
  // All sent at once behind BEGIN; PostgreSQL runs them in order, so everything after the first
  // statement runs under the book lock, each with a fresh snapshot (READ COMMITTED).
  const [symbolRows, balanceRows, positionRows, sellRows, buyRows, targetRows, executionRows] =
    await Promise.all([
      tx`SELECT floor(extract(epoch FROM now()))::bigint AS now
         FROM symbols WHERE sym = ${sym} FOR UPDATE`.execute(),
      buyers.size === 0 && lockFirst.length === 0
        ? empty
        : lockFirst.length === 0
        ? tx`SELECT id, balance FROM accounts WHERE id = ANY(${[...buyers]}::text[])`.execute()
        : tx`SELECT id, balance FROM accounts WHERE id = ANY(${lockIds}::text[])
             ORDER BY id COLLATE "C" FOR UPDATE`.execute(),
      sellers.size === 0 ? empty : tx`SELECT account_id, shares FROM positions
             WHERE sym = ${sym} AND account_id = ANY(${[...sellers]}::text[])`.execute(),
      pageSize.sell === 0 ? empty : bookPage(tx, sym, "sell", undefined, pageSize.sell).execute(),
      pageSize.buy === 0 ? empty : bookPage(tx, sym, "buy", undefined, pageSize.buy).execute(),
      cancelIds.length === 0
        ? empty
        : tx`SELECT id, account_id, amount, limit_price, open_shares FROM orders
             WHERE id = ANY(${cancelIds}::bigint[]) AND sym = ${sym}`.execute(),
      cancelIds.length === 0
        ? empty
        : tx`SELECT buy_order_id, sell_order_id, shares, price, executed_at FROM executions
             WHERE buy_order_id = ANY(${cancelIds}::bigint[])
                OR sell_order_id = ANY(${cancelIds}::bigint[])
             ORDER BY id`.execute(),
    ]);
  const balances = new Map<string, Decimal>();
  for (const row of balanceRows) {
    balances.set(row.id as string, decimalFromDatabase(row.balance as string));
  }
  const positions = new Map<string, Decimal>();
  for (const row of positionRows) {
    positions.set(row.account_id as string, decimalFromDatabase(row.shares as string));
  }
  const cancelTargets = new Map<bigint, CancelTarget>();
  for (const row of targetRows) {
    const amount = decimalFromDatabase(row.amount as string);
    cancelTargets.set(BigInt(row.id as string), {
      id: BigInt(row.id as string),
      accountId: row.account_id as string,
      side: amount.units > 0n ? "buy" : "sell",
      limit: decimalFromDatabase(row.limit_price as string),
      open: decimalFromDatabase(row.open_shares as string),
    });
  }
  const storedExecutions = new Map<bigint, ExecutionView[]>();
  for (const row of executionRows) {
    const view = {
      shares: formatDecimal(decimalFromDatabase(row.shares as string)),
      price: formatDecimal(decimalFromDatabase(row.price as string)),
      time: String(row.executed_at),
    };
    for (const id of [BigInt(row.buy_order_id as string), BigInt(row.sell_order_id as string)]) {
      if (cancelTargets.has(id)) {
        const list = storedExecutions.get(id) ?? [];
        list.push(view);
        storedExecutions.set(id, list);
      }
    }
  }
  return {
    input: {
      sym,
      symbolExists: symbolRows.length === 1,
      ops,
      balances,
      positions,
      sells: side(sellRows, pageSize.sell),
      buys: side(buyRows, pageSize.buy),
      cancelTargets,
    },
    now: symbolRows.length === 1 ? String(symbolRows[0]!.now) : "0",
    storedExecutions,
    pageSize,
  };
}

/** Rows for the orders of the batch that meet a side: a base page plus a few per order. */
function firstPageSize(ops: readonly BatchOp[], incoming: Side): number {
  const count = ops.filter((op) => op.kind === "order" && op.side === incoming).length;
  return Math.min(
    BOOK_PAGE_ORDERS_MAX,
    FIRST_BOOK_PAGE_ORDERS + BOOK_PAGE_ORDERS_PER_ORDER * count,
  );
}

function side(rows: readonly Record<string, unknown>[], requested: number): StoredSide & {
  rows: RestingOrder[];
  complete: boolean;
} {
  return { rows: rows.map(toRestingOrder), complete: requested > 0 && rows.length < requested };
}

/** Reads the page after the last row read of `which`, twice as large as the last one. */
async function readNextPage(tx: ReservedSql, sym: string, read: ReadState, which: Side) {
  const stored = which === "buy" ? read.input.buys : read.input.sells;
  const size = Math.min(
    BOOK_PAGE_ORDERS_MAX,
    Math.max(FIRST_BOOK_PAGE_ORDERS, read.pageSize[which] * 2),
  );
  read.pageSize[which] = size;
  const rows = await bookPage(tx, sym, which, stored.rows.at(-1), size);
  stored.rows.push(...rows.map(toRestingOrder));
  stored.complete = rows.length < size;
}

function toRestingOrder(row: Record<string, unknown>): RestingOrder {
  return {
    id: BigInt(row.id as string),
    accountId: row.account_id as string,
    open: decimalFromDatabase(row.open_shares as string),
    limit: decimalFromDatabase(row.limit_price as string),
  };
}

/**
 * A page of one side of the book, in priority order, after `after` (keyset pagination).
 * Not `FOR UPDATE`: the symbol lock excludes every other writer of this book, and a row lock
 * per page row cost a WAL record and a dirtied page each (WAL per order 1.9-2.6 kB with them,
 * 1.2 kB without, measured on the one-order path).
 */
function bookPage(
  tx: ReservedSql,
  sym: string,
  which: Side,
  after: RestingOrder | undefined,
  size: number,
) {
  const afterPrice = after === undefined ? null : formatDecimal(after.limit);
  const afterId = after === undefined ? null : after.id.toString();
  if (which === "sell") {
    // Sells: lowest limit first, then oldest.
    return tx`
      SELECT id, account_id, open_shares, limit_price FROM orders
      WHERE sym = ${sym} AND amount < 0 AND open_shares > 0
        AND (${afterPrice}::numeric IS NULL OR (limit_price, id) > (${afterPrice}::numeric, ${afterId}::bigint))
      ORDER BY limit_price, id
      LIMIT ${size}`;
  }
  // Buys: highest limit first, then oldest.
  return tx`
    SELECT id, account_id, open_shares, limit_price FROM orders
    WHERE sym = ${sym} AND amount > 0 AND open_shares > 0
      AND (${afterPrice}::numeric IS NULL OR limit_price < ${afterPrice}::numeric
           OR (limit_price = ${afterPrice}::numeric AND id > ${afterId}::bigint))
    ORDER BY limit_price DESC, id
    LIMIT ${size}`;
}

/** Every account whose balance or position the batch changes, or whose balance it relied on. */
function lockSet(decision: BatchDecision): string[] {
  return [
    ...new Set([
      ...decision.cash.keys(),
      ...decision.shares.keys(),
      ...decision.reliedBalances.keys(),
    ]),
  ];
}

/** Order refs for SQL: stored ids as they are, the batch's n-th new order as -(n+1). */
function sqlRef(ref: bigint): string {
  return isNewOrderRef(ref) ? (-(ref - NEW_ORDER_BASE + 1n)).toString() : ref.toString();
}

/**
 * Sends `exchange_apply_batch(...)` at once (`.execute()`), so that the helper's COMMIT follows
 * it in the same round trip. Resolves with the ids of the new orders, in arrival order.
 */
function applyDecision(
  tx: ReservedSql,
  sym: string,
  decision: BatchDecision,
  accounts: readonly string[],
): Promise<bigint[]> {
  const cash = [...decision.cash];
  const credits = [...decision.shares].filter(([, delta]) => isPositive(delta));
  const debits = [...decision.shares].filter(([, delta]) => !isPositive(delta));
  const ids = (pairs: ReadonlyArray<readonly [string, Decimal]>) => pairs.map(([id]) => id);
  const deltas = (pairs: ReadonlyArray<readonly [string, Decimal]>) =>
    pairs.map(([, delta]) => formatDecimal(delta));
  const relied = [...decision.reliedBalances];
  const orders = decision.newOrders;
  const changed = [...decision.storedChanges];
  const executions = decision.executions;
  return tx`
    SELECT exchange_apply_batch(
      ${sym}::text, ${accounts}::text[],
      ${ids(relied)}::text[], ${deltas(relied)}::numeric[],
      ${orders.map((o) => o.accountId)}::text[],
      ${
    orders.map((o) => formatDecimal(o.side === "buy" ? o.shares : negate(o.shares)))
  }::numeric[],
      ${orders.map((o) => formatDecimal(o.limit))}::numeric[],
      ${orders.map((o) => formatDecimal(o.open))}::numeric[],
      ${changed.map(([id]) => id.toString())}::bigint[],
      ${changed.map(([, c]) => formatDecimal(c.open))}::numeric[],
      ${changed.map(([, c]) => formatDecimal(c.canceled))}::numeric[],
      ${executions.map((x) => sqlRef(x.buyRef))}::bigint[],
      ${executions.map((x) => sqlRef(x.sellRef))}::bigint[],
      ${executions.map((x) => formatDecimal(x.shares))}::numeric[],
      ${executions.map((x) => formatDecimal(x.price))}::numeric[],
      ${ids(cash)}::text[], ${deltas(cash)}::numeric[],
      ${ids(credits)}::text[], ${deltas(credits)}::numeric[],
      ${ids(debits)}::text[], ${deltas(debits)}::numeric[]) AS ids`.execute()
    .then((rows) => {
      const drawn = (rows[0]!.ids as string[]).map((id) => BigInt(id));
      assert(drawn.length === orders.length, "exchange_apply_batch drew the wrong number of ids");
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
