/**
 * SQL for reading orders outside a book's batch: the status of orders (`<query>`), many at
 * once, and the book an order belongs to (so that its `<cancel>` can join that book's queue).
 * Placing and canceling run inside a book's batch: src/db/book_batch.ts.
 */
import { assert } from "../exchange/assert.ts";
import {
  decimalFromDatabase,
  formatDatabaseDecimal,
  formatDecimal,
  isPositive,
} from "../exchange/decimal.ts";
import type { Sql } from "./database.ts";
import { pgArray } from "./pg_array.ts";

/** An execution as an `<executed>` answer shows it. */
export interface ExecutionView {
  readonly shares: string;
  readonly price: string;
  readonly time: string;
}

/** An execution row (`shares`, `price`, `executed_at`) as an `<executed>` answer shows it. */
export function executionView(row: Record<string, unknown>): ExecutionView {
  return {
    shares: formatDatabaseDecimal(row.shares as string),
    price: formatDatabaseDecimal(row.price as string),
    time: String(row.executed_at),
  };
}

/** An order's state as `<status>` and `<canceled>` answers show it. */
export interface OrderStatus {
  /** Open shares (positive), or undefined when nothing is open. */
  open: string | undefined;
  canceled: { shares: string; time: string } | undefined;
  executions: ExecutionView[];
}

/** One order asked for, by id and the account that must own it. */
export interface StatusRequest {
  readonly orderId: string;
  readonly accountId: string;
}

/**
 * The status of each order asked for that exists and belongs to its account, keyed by
 * `statusKey`. One statement, so one snapshot and no locks: no explicit transaction.
 * Round trips: 1 for any number of orders.
 */
export async function readStatuses(
  sql: Sql,
  requests: readonly StatusRequest[],
): Promise<Map<string, OrderStatus>> {
  // The same order asked twice would join its executions twice: ask each once.
  const unique = [...new Map(requests.map((r) => [statusKey(r), r])).values()];
  const rows = await sql`
    SELECT o.id, o.account_id, o.open_shares, o.canceled_shares, o.canceled_at,
           e.shares, e.price, e.executed_at
    FROM unnest(${pgArray(unique.map((r) => r.orderId))}::bigint[],
                ${pgArray(unique.map((r) => r.accountId))}::text[]) AS q(id, account_id)
    JOIN orders AS o ON o.id = q.id AND o.account_id = q.account_id
    LEFT JOIN LATERAL (
      SELECT x.id, x.shares, x.price, x.executed_at FROM executions AS x
      WHERE o.amount > 0 AND x.buy_order_id = o.id
      UNION ALL
      SELECT x.id, x.shares, x.price, x.executed_at FROM executions AS x
      WHERE o.amount < 0 AND x.sell_order_id = o.id
    ) AS e ON true
    ORDER BY o.id, e.id`;
  const statuses = new Map<string, OrderStatus>();
  for (const row of rows) {
    const key = statusKey({ orderId: String(row.id), accountId: row.account_id as string });
    let status = statuses.get(key);
    if (status === undefined) {
      status = newStatus(row);
      statuses.set(key, status);
    }
    if (row.shares !== null) {
      status.executions.push(executionView(row));
    }
  }
  return statuses;
}

/** The key of a status in {@link readStatuses}'s answer. */
export function statusKey(request: StatusRequest): string {
  return `${request.orderId}/${request.accountId}`;
}

function newStatus(row: Record<string, unknown>): OrderStatus {
  const open = decimalFromDatabase(row.open_shares as string);
  const canceledAt = row.canceled_at as string | null;
  const status: OrderStatus = {
    open: isPositive(open) ? formatDecimal(open) : undefined,
    canceled: canceledAt === null ? undefined : {
      shares: formatDatabaseDecimal(row.canceled_shares as string),
      time: String(canceledAt),
    },
    executions: [],
  };
  assert(
    status.open === undefined || status.canceled === undefined,
    "order both open and canceled",
  );
  return status;
}

/**
 * The symbol of an order of `accountId`, or undefined if it has no such order. An order's symbol
 * and owner never change, so this needs no lock; the cancel itself reads the order again under
 * the book lock. Round trips: 1.
 */
export async function orderSymbol(
  sql: Sql,
  accountId: string,
  orderId: string,
): Promise<string | undefined> {
  const rows =
    await sql`SELECT sym FROM orders WHERE id = ${orderId} AND account_id = ${accountId}`;
  return rows.length === 0 ? undefined : rows[0]!.sym as string;
}
