/**
 * SQL for orders: placing (with matching), canceling, and reading an order's status.
 *
 * Every function follows the global lock order documented in transaction.ts. Statements that
 * do not depend on each other's results are sent together (`.execute()` sends at once; PostgreSQL
 * runs them in order on the one connection), so a round trip carries several statements.
 */
import { assert } from "../exchange/assert.ts";
import {
  abs,
  add,
  type Decimal,
  decimalFromDatabase,
  formatDatabaseDecimal,
  formatDecimal,
  isPositive,
  isZero,
  multiply,
  ZERO,
} from "../exchange/decimal.ts";
import { type Fill, matchOrder, type RestingOrder, type Side } from "../exchange/matching.ts";
import { reservation, settle, type Settlement } from "../exchange/settlement.ts";
import type { Database, ReservedSql, Sql } from "./database.ts";
import { metrics } from "../server/metrics.ts";
import { requirementFailure } from "./errors.ts";
import { done, inTransaction, type Outcome, refused } from "./transaction.ts";

/**
 * Resting orders read in round trip 1: enough for most orders (a fill usually takes one to
 * three resting orders), small enough that the server does not decode rows it will not use.
 */
export const FIRST_BOOK_PAGE_ORDERS = 8;
/** Resting orders read per further round trip, when an order sweeps deeper into the book. */
export const BOOK_PAGE_ORDERS = 32;

/** Same message for an unknown id and another account's id: ids of others stay secret. */
export const UNKNOWN_ORDER = "Unknown transaction id for this account";

/** Whole seconds since the Unix epoch, as PostgreSQL sees the current transaction's time. */
const NOW_EPOCH = "floor(extract(epoch FROM now()))::bigint";

export interface PlaceOrderRequest {
  accountId: string;
  sym: string;
  /** Signed: > 0 buys, < 0 sells. */
  amount: Decimal;
  limit: Decimal;
}

/**
 * Opens an order, reserving its cash or shares, and matches it against the book at once.
 *
 * Locks: the symbol row (1); the resting orders it fills (2), row-locked by their UPDATE;
 * every account that trades, ascending (3); for a sell the seller's position (4).
 * Round trips: 2 when the first page of the book suffices, one more per further page (32):
 *   1. BEGIN, book lock with a new transaction id, first page (8) of crossing orders;
 *   2. `exchange_apply_order(...)`: account locks, funds check (or position lock and shares
 *      check), and every write; then COMMIT, sent right behind it.
 * If the check fails, the call raises, the transaction is aborted and PostgreSQL answers the
 * COMMIT with ROLLBACK, so nothing of a refused order is kept.
 */
export function placeOrder(db: Database, request: PlaceOrderRequest): Promise<Outcome<bigint>> {
  const side: Side = request.amount.units > 0n ? "buy" : "sell";
  const shares = abs(request.amount);
  const { accountId, sym, limit } = request;
  let executions: Settlement["executions"] = []; // metrics: the last attempt's fills
  return inTransaction<bigint>(db, async (tx) => {
    // Round trip 1: the book lock, the first page of crossing orders, a transaction id.
    const [symbolRows, firstPage] = await Promise.all([
      // The id is drawn only once the book lock is held (outer query over the locked row; in
      // `SELECT nextval(...) FROM symbols ... FOR UPDATE` it would be drawn before waiting for
      // the lock), so ids follow the order in which orders reach the book: time priority.
      tx`SELECT nextval('order_ids') AS id
         FROM (SELECT sym FROM symbols WHERE sym = ${sym} FOR UPDATE) AS book`.execute(),
      bookPage(tx, sym, side, limit, undefined, FIRST_BOOK_PAGE_ORDERS).execute(),
    ]);
    if (symbolRows.length === 0) {
      return refused(`Unknown symbol ${sym}`);
    }
    const orderId = BigInt(symbolRows[0]!.id as string);

    // Matching, page by page; the book cannot change underneath: we hold its lock.
    const fills: Fill[] = [];
    let remaining = shares;
    let page = firstPage.map(toRestingOrder);
    let pageSize = FIRST_BOOK_PAGE_ORDERS;
    for (;;) {
      const matched = matchOrder(side, limit, remaining, page);
      fills.push(...matched.fills);
      remaining = matched.remaining;
      if (isZero(remaining) || page.length < pageSize) {
        break;
      }
      pageSize = BOOK_PAGE_ORDERS;
      page = (await bookPage(tx, sym, side, limit, page.at(-1), pageSize)).map(toRestingOrder);
    }
    const settlement = settle({ id: orderId, accountId, side, shares, limit }, fills);
    executions = settlement.executions;

    // Round trip 2: locks, check and writes in one call; the helper sends COMMIT right behind it.
    const accountIds = [...new Set([accountId, ...fills.map((fill) => fill.resting.accountId)])];
    const needed = formatDecimal(reservation({ side, shares, limit }));
    const applied = applySettlement(tx, settlement, {
      orderId,
      accountId,
      sym,
      amount: request.amount,
      limit,
      needed,
      accountIds,
    });
    return {
      deferred: applied.then(
        () => done(orderId),
        (error) => {
          const reason = requirementFailure(error);
          if (reason === undefined) {
            throw error;
          }
          return refused(refusalMessage(reason, sym, needed));
        },
      ),
    };
  }).then((outcome) => {
    if (outcome.ok && executions.length > 0) { // metrics: fills counted once committed
      metrics.fills(
        executions.length,
        formatDecimal(executions.reduce((s, x) => add(s, x.shares), ZERO)),
      );
    }
    return outcome;
  });
}

/** The client-facing text of a failed funds or shares check ("insufficient_funds 12.5"). */
function refusalMessage(reason: string, sym: string, needed: string): string {
  const [kind, available = "0"] = reason.split(" ");
  const amount = formatDatabaseDecimal(available);
  if (kind === "insufficient_funds") {
    return `Insufficient funds: order needs ${needed} but balance is ${amount}`;
  }
  return `Insufficient shares: order sells ${needed} of ${sym} but position is ${amount}`;
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
 * One page of the other side's open orders that cross `limit`, in priority order.
 * `after` continues from the last order of the previous page (keyset pagination).
 * Not `FOR UPDATE`: the symbol lock we hold already excludes every other writer of this book,
 * and a row lock on each page row cost a WAL record and a dirtied page per row (measured: WAL
 * per order 1.9-2.6 kB with the row locks, 1.2 kB without), most of them for rows not filled.
 */
function bookPage(
  tx: ReservedSql,
  sym: string,
  side: Side,
  limit: Decimal,
  after: RestingOrder | undefined,
  pageSize: number,
) {
  const price = formatDecimal(limit);
  if (side === "buy") {
    // An incoming buy meets sells: lowest limit first, then oldest.
    const afterPrice = after === undefined ? null : formatDecimal(after.limit);
    const afterId = after === undefined ? null : after.id.toString();
    return tx`
      SELECT id, account_id, open_shares, limit_price FROM orders
      WHERE sym = ${sym} AND amount < 0 AND open_shares > 0 AND limit_price <= ${price}
        AND (${afterPrice}::numeric IS NULL OR (limit_price, id) > (${afterPrice}::numeric, ${afterId}::bigint))
      ORDER BY limit_price, id
      LIMIT ${pageSize}`;
  }
  // An incoming sell meets buys: highest limit first, then oldest.
  const afterPrice = after === undefined ? null : formatDecimal(after.limit);
  const afterId = after === undefined ? null : after.id.toString();
  return tx`
    SELECT id, account_id, open_shares, limit_price FROM orders
    WHERE sym = ${sym} AND amount > 0 AND open_shares > 0 AND limit_price >= ${price}
      AND (${afterPrice}::numeric IS NULL OR limit_price < ${afterPrice}::numeric
           OR (limit_price = ${afterPrice}::numeric AND id > ${afterId}::bigint))
    ORDER BY limit_price DESC, id
    LIMIT ${pageSize}`;
}

/**
 * Applies a settlement with `exchange_apply_order` (migrations/003_apply_order.sql): it locks
 * every account that trades (ascending), locks the seller's position, checks funds or shares
 * and writes everything, in one statement. Sent at once (`.execute()`), so that the helper's
 * COMMIT follows it in the same round trip.
 * Measured: about 7 separately sent statements cost more server and PostgreSQL CPU per order,
 * and one statement of data-modifying CTEs cost PostgreSQL more still (planning).
 */
function applySettlement(
  tx: ReservedSql,
  settlement: Settlement,
  order: {
    orderId: bigint;
    accountId: string;
    sym: string;
    amount: Decimal;
    limit: Decimal;
    needed: string;
    accountIds: string[];
  },
): Promise<unknown> {
  const cash = [...settlement.cash];
  const credits = [...settlement.shares].filter(([, delta]) => isPositive(delta));
  const debits = [...settlement.shares].filter(([, delta]) => !isPositive(delta));
  const ids = (pairs: Array<[string, Decimal]>) => pairs.map(([id]) => id);
  const deltas = (pairs: Array<[string, Decimal]>) =>
    pairs.map(([, delta]) => formatDecimal(delta));
  const fills = settlement.restingFilled;
  const executions = settlement.executions;
  return tx`
    SELECT exchange_apply_order(
      ${order.orderId.toString()}::bigint, ${order.accountId}::text, ${order.sym}::text,
      ${formatDecimal(order.amount)}::numeric, ${formatDecimal(order.limit)}::numeric,
      ${formatDecimal(settlement.incomingOpen)}::numeric, ${order.needed}::numeric,
      ${order.accountIds}::text[],
      ${ids(cash)}::text[], ${deltas(cash)}::numeric[],
      ${ids(credits)}::text[], ${deltas(credits)}::numeric[],
      ${ids(debits)}::text[], ${deltas(debits)}::numeric[],
      ${fills.map((f) => f.id.toString())}::bigint[], ${
    fills.map((f) => formatDecimal(f.shares))
  }::numeric[],
      ${executions.map((x) => x.buyOrderId.toString())}::bigint[],
      ${executions.map((x) => x.sellOrderId.toString())}::bigint[],
      ${executions.map((x) => formatDecimal(x.shares))}::numeric[],
      ${executions.map((x) => formatDecimal(x.price))}::numeric[])`.execute();
}

/** An order's state as `<status>` and `<canceled>` answers show it. */
export interface OrderStatus {
  /** Open shares (positive), or undefined when nothing is open. */
  open: string | undefined;
  canceled: { shares: string; time: string } | undefined;
  executions: Array<{ shares: string; price: string; time: string }>;
}

/** The order's row and its executions (oldest first), in one statement: one snapshot. */
function statusRows(sql: Sql | ReservedSql, orderId: string, accountId: string) {
  return sql`
    SELECT o.open_shares, o.canceled_shares, o.canceled_at,
           e.shares, e.price, e.executed_at
    FROM orders AS o
    LEFT JOIN LATERAL (
      SELECT x.id, x.shares, x.price, x.executed_at FROM executions AS x
      WHERE o.amount > 0 AND x.buy_order_id = o.id
      UNION ALL
      SELECT x.id, x.shares, x.price, x.executed_at FROM executions AS x
      WHERE o.amount < 0 AND x.sell_order_id = o.id
    ) AS e ON true
    WHERE o.id = ${orderId} AND o.account_id = ${accountId}
    ORDER BY e.id`;
}

function toStatus(rows: readonly Record<string, unknown>[]): OrderStatus | undefined {
  const first = rows[0];
  if (first === undefined) {
    return undefined;
  }
  const open = decimalFromDatabase(first.open_shares as string);
  const canceledAt = first.canceled_at as string | null;
  const status: OrderStatus = {
    open: isPositive(open) ? formatDecimal(open) : undefined,
    canceled: canceledAt === null ? undefined : {
      shares: formatDatabaseDecimal(first.canceled_shares as string),
      time: canceledAt,
    },
    executions: [],
  };
  for (const row of rows) {
    if (row.shares !== null) {
      status.executions.push({
        shares: formatDatabaseDecimal(row.shares as string),
        price: formatDatabaseDecimal(row.price as string),
        time: row.executed_at as string,
      });
    }
  }
  assert(
    status.open === undefined || status.canceled === undefined,
    "order both open and canceled",
  );
  return status;
}

/**
 * Reads an order of `accountId`. A single statement sees one consistent snapshot and holds no
 * locks, so it needs no explicit transaction. Round trips: 1.
 */
export async function queryOrder(
  db: Database,
  accountId: string,
  orderId: string,
): Promise<Outcome<OrderStatus>> {
  const status = toStatus(await statusRows(db.sql, orderId, accountId));
  return status === undefined ? refused(UNKNOWN_ORDER) : done(status);
}

/**
 * Cancels the open part of an order of `accountId`, refunding its cash (buy) or returning its
 * shares (sell). Locks: the order's symbol (1), the order (2), the account (3, buys) or the
 * position (4, sells).
 * Round trips: 2 (BEGIN + locks pipelined; cancel + refund + status read + COMMIT).
 */
export function cancelOrder(
  db: Database,
  accountId: string,
  orderId: string,
): Promise<Outcome<OrderStatus>> {
  return inTransaction(db, async (tx) => {
    // An order's symbol and owner never change, so the subquery can find them without a lock.
    const [, orderRows] = await Promise.all([
      tx`SELECT sym FROM symbols
         WHERE sym = (SELECT sym FROM orders WHERE id = ${orderId} AND account_id = ${accountId})
         FOR UPDATE`.execute(),
      tx`SELECT sym, amount, limit_price, open_shares FROM orders
         WHERE id = ${orderId} AND account_id = ${accountId}
         FOR UPDATE`.execute(),
    ]);
    const order = orderRows[0];
    if (order === undefined) {
      return refused(UNKNOWN_ORDER);
    }
    const open = decimalFromDatabase(order.open_shares as string);
    if (!isPositive(open)) {
      return refused("Order has nothing open to cancel");
    }
    const sym = order.sym as string;
    const isBuy = decimalFromDatabase(order.amount as string).units > 0n;
    // Round trip 2: cancel, refund, read the final status; the helper sends COMMIT behind them.
    const statements = Promise.all([
      tx`UPDATE orders SET canceled_shares = open_shares, open_shares = 0,
                           canceled_at = ${tx.unsafe(NOW_EPOCH)}
         WHERE id = ${orderId}`.execute(),
      isBuy
        ? tx`UPDATE accounts SET balance = balance + ${
          formatDecimal(multiply(open, decimalFromDatabase(order.limit_price as string)))
        } WHERE id = ${accountId}`.execute()
        : tx`INSERT INTO positions (account_id, sym, shares) VALUES (${accountId}, ${sym}, ${
          formatDecimal(open)
        })
             ON CONFLICT (account_id, sym) DO UPDATE SET shares = positions.shares + excluded.shares`
          .execute(),
      statusRows(tx, orderId, accountId).execute(),
    ]);
    return {
      deferred: statements.then(([, , rows]) => {
        const status = toStatus(rows);
        assert(
          status !== undefined && status.canceled !== undefined,
          "canceled order has no cancel",
        );
        return done(status);
      }),
    };
  });
}
