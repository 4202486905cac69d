/**
 * The exchange's invariants, checked in SQL against a database: conservation of shares and cash,
 * nothing negative, executions priced and paired correctly, every order's shares accounted for,
 * no order both open and canceled, no crossed book at rest; and for the order instructions of
 * issue 20, no IOC or FOK order resting and no trade between two orders of one account where the
 * incoming one (the later id) asked for self-trade prevention. This is the one definition of
 * these invariants: tests and the stress run call {@link auditDatabase} rather than their own SQL.
 *
 * Everything runs as one statement, so it reads one snapshot: the numbers it compares are
 * consistent with each other even while a server keeps trading, because every operation commits
 * atomically and the invariants hold after each commit. It takes no locks and writes nothing.
 * NUMERIC values are compared in SQL and reported as text, so nothing is rounded.
 */
import type { Sql } from "./database.ts";
import { EXECUTED_PER_ORDER_CTES } from "./order_shares.ts";

/** The invariants, in the order the report lists them. */
export const AUDIT_CHECKS = [
  "shares_not_conserved",
  "cash_not_conserved",
  "negative_value",
  "execution_wrong_orders",
  "execution_price_outside_limits",
  "execution_price_not_resting_limit",
  "order_shares_mismatch",
  "crossed_book",
  "immediate_order_resting",
  "self_trade_not_prevented",
] as const;

/** The name of one invariant. */
export type AuditCheck = typeof AUDIT_CHECKS[number];

/** Violations listed per check; the count still covers all of them. */
export const VIOLATIONS_PER_CHECK_MAX = 100;

/** One broken invariant: which check, what it is about ("symbol SPY", "order 7"), and the numbers. */
export interface Violation {
  check: AuditCheck;
  subject: string;
  detail: string;
}

/** What the audit saw and what it found. */
export interface AuditReport {
  totals: {
    accounts: number;
    symbols: number;
    orders: number;
    openOrders: number;
    executions: number;
    /** Cash deposited at account creation, exact decimal text. */
    deposited: string;
    /** Current balances, exact decimal text. */
    balances: string;
    /** Cash reserved by open buy orders, exact decimal text. */
    reservedCash: string;
  };
  /** At most {@link VIOLATIONS_PER_CHECK_MAX} per check, in check order, then by subject. */
  violations: Violation[];
  /** How many violations each failing check found (checks that passed are absent). */
  violationCounts: Partial<Record<AuditCheck, number>>;
}

/**
 * Every check yields rows (ord, check, subject, detail, sort_id, sort_text); `ord` is the
 * check's position in AUDIT_CHECKS, the sort columns order its rows (ids numerically).
 * Prices are judged only for well-formed executions (a buy and a sell of one symbol); the others
 * are reported once, as execution_wrong_orders.
 * Open sells reserve their open shares, open buys reserve open shares x limit; canceled and
 * filled orders have open_shares = 0, so summing over all orders of a side is the same thing.
 */
const AUDIT_SQL = `
WITH
held AS (SELECT sym, sum(shares) AS shares FROM positions GROUP BY sym),
reserved_shares AS (
  SELECT sym, sum(open_shares) AS shares FROM orders WHERE amount < 0 GROUP BY sym
),
cash AS (
  SELECT (SELECT coalesce(sum(deposited), 0) FROM accounts) AS deposited,
         (SELECT coalesce(sum(balance), 0) FROM accounts) AS balances,
         (SELECT coalesce(sum(open_shares * limit_price), 0) FROM orders WHERE amount > 0)
           AS reserved
),
${EXECUTED_PER_ORDER_CTES},
paired AS (
  SELECT x.id, x.price, x.buy_order_id, x.sell_order_id,
         b.id AS buy_id, b.amount AS buy_amount, b.sym AS buy_sym, b.limit_price AS buy_limit,
         s.id AS sell_id, s.amount AS sell_amount, s.sym AS sell_sym, s.limit_price AS sell_limit,
         coalesce(b.amount > 0 AND s.amount < 0 AND b.sym = s.sym, false) AS well_formed
  FROM executions AS x
  LEFT JOIN orders AS b ON b.id = x.buy_order_id
  LEFT JOIN orders AS s ON s.id = x.sell_order_id
),
best AS (
  SELECT sym,
         max(limit_price) FILTER (WHERE amount > 0) AS best_buy,
         min(limit_price) FILTER (WHERE amount < 0) AS best_sell
  FROM orders WHERE open_shares > 0 GROUP BY sym
),
violations AS (
  SELECT 0 AS ord, 'shares_not_conserved' AS "check", 'symbol ' || s.sym AS subject,
         format('minted %s, but positions hold %s and open sells reserve %s',
                trim_scale(s.minted), trim_scale(coalesce(h.shares, 0)),
                trim_scale(coalesce(r.shares, 0))) AS detail,
         NULL::bigint AS sort_id, s.sym AS sort_text
  FROM symbols AS s
  LEFT JOIN held AS h ON h.sym = s.sym
  LEFT JOIN reserved_shares AS r ON r.sym = s.sym
  WHERE s.minted <> coalesce(h.shares, 0) + coalesce(r.shares, 0)

  UNION ALL
  SELECT 1, 'cash_not_conserved', 'all accounts',
         format('deposited %s, but balances hold %s and open buys reserve %s',
                trim_scale(c.deposited), trim_scale(c.balances), trim_scale(c.reserved)),
         NULL, ''
  FROM cash AS c
  WHERE c.deposited <> c.balances + c.reserved

  UNION ALL
  SELECT 2, 'negative_value', 'account ' || id, format('balance is %s', trim_scale(balance)),
         NULL, 'account ' || id
  FROM accounts WHERE balance < 0
  UNION ALL
  SELECT 2, 'negative_value', 'account ' || id, format('deposited is %s', trim_scale(deposited)),
         NULL, 'account ' || id
  FROM accounts WHERE deposited < 0
  UNION ALL
  SELECT 2, 'negative_value', 'symbol ' || sym, format('minted is %s', trim_scale(minted)),
         NULL, 'symbol ' || sym
  FROM symbols WHERE minted < 0
  UNION ALL
  SELECT 2, 'negative_value', format('position %s %s', account_id, sym),
         format('shares are %s', trim_scale(shares)), NULL, 'position ' || account_id || ' ' || sym
  FROM positions WHERE shares < 0
  UNION ALL
  SELECT 2, 'negative_value', 'order ' || id,
         format('open shares %s, canceled shares %s, limit %s',
                trim_scale(open_shares), trim_scale(canceled_shares), trim_scale(limit_price)),
         id, 'order'
  FROM orders WHERE open_shares < 0 OR canceled_shares < 0 OR limit_price <= 0
  UNION ALL
  SELECT 2, 'negative_value', 'execution ' || id,
         format('shares %s, price %s', trim_scale(shares), trim_scale(price)), id, 'execution'
  FROM executions WHERE shares <= 0 OR price <= 0

  UNION ALL
  SELECT 3, 'execution_wrong_orders', 'execution ' || id,
         CASE
           WHEN buy_id IS NULL OR sell_id IS NULL THEN
             format('refers to a missing order (buy %s, sell %s)', buy_order_id, sell_order_id)
           WHEN buy_amount <= 0 OR sell_amount >= 0 THEN
             format('buy order %s has amount %s and sell order %s has amount %s',
                    buy_id, trim_scale(buy_amount), sell_id, trim_scale(sell_amount))
           ELSE format('buy order %s is on %s but sell order %s is on %s',
                       buy_id, buy_sym, sell_id, sell_sym)
         END,
         id, ''
  FROM paired
  WHERE NOT well_formed

  UNION ALL
  SELECT 4, 'execution_price_outside_limits', 'execution ' || id,
         format('price %s, but sell order %s has limit %s and buy order %s has limit %s',
                trim_scale(price), sell_id, trim_scale(sell_limit), buy_id, trim_scale(buy_limit)),
         id, ''
  FROM paired
  WHERE well_formed AND (price < sell_limit OR price > buy_limit)

  UNION ALL
  SELECT 5, 'execution_price_not_resting_limit', 'execution ' || id,
         format('price %s, but the resting order %s has limit %s', trim_scale(price),
                least(buy_id, sell_id),
                trim_scale(CASE WHEN buy_id < sell_id THEN buy_limit ELSE sell_limit END)),
         id, ''
  FROM paired
  WHERE well_formed AND price <> CASE WHEN buy_id < sell_id THEN buy_limit ELSE sell_limit END

  UNION ALL
  SELECT 6, 'order_shares_mismatch', 'order ' || o.id,
         format('executed %s + open %s + canceled %s, but the amount is %s',
                trim_scale(coalesce(e.shares, 0)), trim_scale(o.open_shares),
                trim_scale(o.canceled_shares), trim_scale(o.amount)),
         o.id, ''
  FROM orders AS o
  LEFT JOIN executed AS e ON e.order_id = o.id
  WHERE coalesce(e.shares, 0) + o.open_shares + o.canceled_shares <> abs(o.amount)
  UNION ALL
  SELECT 6, 'order_shares_mismatch', 'order ' || id,
         format('open %s and canceled %s at once: a cancel leaves nothing open',
                trim_scale(open_shares), trim_scale(canceled_shares)),
         id, ''
  FROM orders
  WHERE open_shares > 0 AND canceled_shares > 0

  UNION ALL
  SELECT 7, 'crossed_book', 'symbol ' || sym,
         format('best open buy %s is not below best open sell %s',
                trim_scale(best_buy), trim_scale(best_sell)),
         NULL, sym
  FROM best
  WHERE best_buy >= best_sell

  UNION ALL
  SELECT 8, 'immediate_order_resting', 'order ' || id,
         format('%s order has %s open: IOC and FOK orders never rest', time_in_force,
                trim_scale(open_shares)),
         id, ''
  FROM orders
  WHERE time_in_force <> 'GTC' AND open_shares > 0

  UNION ALL
  SELECT 9, 'self_trade_not_prevented', 'execution ' || p.id,
         format('buy order %s and sell order %s are both of account %s, and order %s came with '
                || 'stp %s', p.buy_id, p.sell_id, b.account_id, greatest(p.buy_id, p.sell_id),
                CASE WHEN p.buy_id > p.sell_id THEN b.self_trade ELSE s.self_trade END),
         p.id, ''
  FROM paired AS p
  JOIN orders AS b ON b.id = p.buy_id
  JOIN orders AS s ON s.id = p.sell_id
  WHERE p.well_formed AND b.account_id = s.account_id
    AND CASE WHEN p.buy_id > p.sell_id THEN b.self_trade ELSE s.self_trade END <> 'none'
),
ranked AS (
  SELECT v.*,
         row_number() OVER (PARTITION BY ord ORDER BY sort_id, sort_text, subject, detail) AS n,
         count(*) OVER (PARTITION BY ord) AS total
  FROM violations AS v
)
SELECT
  (SELECT count(*) FROM accounts) AS accounts,
  (SELECT count(*) FROM symbols) AS symbols,
  (SELECT count(*) FROM orders) AS orders,
  (SELECT count(*) FROM orders WHERE open_shares > 0) AS open_orders,
  (SELECT count(*) FROM executions) AS executions,
  (SELECT trim_scale(deposited)::text FROM cash) AS deposited,
  (SELECT trim_scale(balances)::text FROM cash) AS balances,
  (SELECT trim_scale(reserved)::text FROM cash) AS reserved_cash,
  (SELECT coalesce(
     json_agg(json_build_object('check', "check", 'subject', subject, 'detail', detail)
              ORDER BY ord, n),
     '[]'::json)
   FROM ranked WHERE n <= $1) AS violations,
  (SELECT coalesce(json_object_agg("check", total ORDER BY ord), '{}'::json)
   FROM (SELECT DISTINCT ord, "check", total FROM ranked) AS c) AS violation_counts
`;

/**
 * Runs every check of {@link AUDIT_CHECKS} against the exchange schema that `sql`'s
 * `search_path` points at; one statement, so one snapshot. Throws if the schema is missing.
 */
export async function auditDatabase(sql: Sql): Promise<AuditReport> {
  const [schema] = await sql`SELECT to_regclass('orders') IS NOT NULL AS present`;
  if (schema?.present !== true) {
    throw new Error(
      "Cannot audit: the exchange tables do not exist in this database (never migrated?)",
    );
  }
  const [row] = await sql.unsafe(AUDIT_SQL, [VIOLATIONS_PER_CHECK_MAX]);
  if (row === undefined) {
    throw new Error("Cannot audit: the audit statement returned no row");
  }
  return {
    totals: {
      accounts: Number(row.accounts),
      symbols: Number(row.symbols),
      orders: Number(row.orders),
      openOrders: Number(row.open_orders),
      executions: Number(row.executions),
      deposited: row.deposited as string,
      balances: row.balances as string,
      reservedCash: row.reserved_cash as string,
    },
    violations: parseJson(row.violations) as Violation[],
    violationCounts: parseJson(row.violation_counts) as Partial<Record<AuditCheck, number>>,
  };
}

/** postgres.js parses json columns itself; accept text too, in case a pool is set up without. */
function parseJson(value: unknown): unknown {
  return typeof value === "string" ? JSON.parse(value) : value;
}
