/**
 * Where each order's shares are: open, canceled, and executed (summed over its fills on either
 * side). One definition, used by the audit's `order_shares_mismatch` check (inside its single
 * statement) and by the stress run's comparison of query answers with the database.
 */
import { type Decimal, decimalFromDatabase } from "../exchange/decimal.ts";
import type { Sql } from "./database.ts";

/**
 * Two common table expressions: `fills` (every execution once per order it fills) and
 * `executed` (`order_id`, `shares` executed, number of `fills`). Text, so that it can join a
 * larger statement (the audit reads everything in one snapshot).
 */
export const EXECUTED_PER_ORDER_CTES = `
fills AS (
  SELECT buy_order_id AS order_id, shares FROM executions
  UNION ALL
  SELECT sell_order_id, shares FROM executions
),
executed AS (
  SELECT order_id, sum(shares) AS shares, count(*) AS fills FROM fills GROUP BY order_id
)`;

/** One order's shares, as exact decimals. */
export interface OrderShares {
  open: Decimal;
  canceled: Decimal;
  executed: Decimal;
  /** How many executions fill it. */
  fills: number;
}

/** Every order's open, canceled and executed shares and its number of fills, by order id. */
export async function readOrderShares(sql: Sql): Promise<Map<string, OrderShares>> {
  const rows = await sql.unsafe(`
    WITH ${EXECUTED_PER_ORDER_CTES}
    SELECT o.id::text AS id, o.open_shares::text AS open, o.canceled_shares::text AS canceled,
           coalesce(e.shares, 0)::text AS executed, coalesce(e.fills, 0)::int AS fills
    FROM orders AS o LEFT JOIN executed AS e ON e.order_id = o.id`);
  const byId = new Map<string, OrderShares>();
  for (const row of rows) {
    byId.set(row.id as string, {
      open: decimalFromDatabase(row.open as string),
      canceled: decimalFromDatabase(row.canceled as string),
      executed: decimalFromDatabase(row.executed as string),
      fills: row.fills as number,
    });
  }
  return byId;
}
