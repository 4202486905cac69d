/**
 * Read-only SQL for market data: the symbols, a book aggregated by price level, recent trades,
 * and recent trades summed into per-second candles for the page's price chart.
 *
 * Anonymous by construction: no account id, order id or balance leaves these statements.
 * Each read is one statement, so it sees one snapshot and takes no lock (plain MVCC reads, no
 * `FOR UPDATE`, no symbol lock): the order path is never held up by someone watching the book.
 * Each read's cost is bounded: the book walks at most `depth` price levels per side through the
 * open-order indexes; trades are looked for among the newest `scanRows` executions only (the
 * schema has no per-symbol index on executions).
 */
import type { DatabaseConfig } from "../config.ts";
import { formatDatabaseDecimal } from "../exchange/decimal.ts";
import { type Database, openPool, type Sql, type Target } from "./database.ts";
import { clusterTarget } from "./embedded_target.ts";

/** One price level: every open order at that price, summed. Decimals as exact strings. */
export interface BookLevel {
  price: string;
  shares: string;
  orders: number;
}

/** A book, best price first on both sides. */
export interface Book {
  sym: string;
  bids: BookLevel[];
  asks: BookLevel[];
}

/** One execution, as the public sees it. */
export interface Trade {
  price: string;
  shares: string;
  /** Whole seconds since the Unix epoch. */
  time: number;
}

/** A symbol's newest trades (newest first) and its activity over the last minute. */
export interface Trades {
  sym: string;
  trades: Trade[];
  /** Executions in the last 60 seconds (within the scanned window). */
  tradesLastMinute: number;
  /** Shares executed in the last 60 seconds (within the scanned window). */
  sharesLastMinute: string;
}

/**
 * The trades of one second of one symbol, summed: prices and shares are exact decimal strings.
 * One second is the finest step the schema records (`executed_at` is whole seconds), and a
 * chart's time axis needs one point per time.
 */
export interface Candle {
  /** Whole seconds since the Unix epoch. */
  time: number;
  /** Price of the second's first trade. */
  open: string;
  high: string;
  low: string;
  /** Price of the second's last trade. */
  close: string;
  /** Shares traded in that second. */
  shares: string;
  /** Trades in that second. */
  trades: number;
}

/** The symbols, in byte order, at most `max`. */
export async function listSymbols(sql: Sql, max: number): Promise<string[]> {
  const rows = await sql`SELECT sym FROM symbols ORDER BY sym COLLATE "C" LIMIT ${max}`;
  return rows.map((row) => row.sym as string);
}

/**
 * The best `depth` price levels of one side, found by a loose index scan: each step of the
 * recursion is one probe of the side's partial index for the next distinct price, so the walk
 * stops after `depth` levels however many orders rest deeper.
 */
function sideLevels(side: "bids" | "asks"): string {
  const filter = side === "bids"
    ? "amount > 0 AND open_shares > 0"
    : "amount < 0 AND open_shares > 0";
  const next = side === "bids" ? "<" : ">";
  const order = side === "bids" ? "DESC" : "ASC";
  return `
    SELECT coalesce(json_agg(json_build_object(
             'price', l.price::text, 'shares', a.shares::text, 'orders', a.orders)
           ORDER BY l.price ${order}), '[]'::json)
    FROM (
      WITH RECURSIVE levels(price) AS (
        (SELECT limit_price FROM orders WHERE sym = $1 AND ${filter}
         ORDER BY limit_price ${order} LIMIT 1)
        UNION ALL
        SELECT (SELECT o.limit_price FROM orders AS o
                WHERE o.sym = $1 AND o.${filter.replace(" AND ", " AND o.")}
                  AND o.limit_price ${next} levels.price
                ORDER BY o.limit_price ${order} LIMIT 1)
        FROM levels WHERE levels.price IS NOT NULL
      )
      SELECT price FROM levels WHERE price IS NOT NULL LIMIT $2
    ) AS l
    CROSS JOIN LATERAL (
      SELECT sum(open_shares) AS shares, count(*) AS orders FROM orders
      WHERE sym = $1 AND ${filter} AND limit_price = l.price
    ) AS a`;
}

const BOOK_SQL = `
  SELECT EXISTS (SELECT 1 FROM symbols WHERE sym = $1) AS known,
         (${sideLevels("bids")}) AS bids,
         (${sideLevels("asks")}) AS asks`;

function toLevels(raw: unknown): BookLevel[] {
  const levels = (raw ?? []) as Array<{ price: string; shares: string; orders: number }>;
  return levels.map((level) => ({
    price: formatDatabaseDecimal(level.price),
    shares: formatDatabaseDecimal(level.shares),
    orders: Number(level.orders),
  }));
}

/** The book of `sym`, `depth` levels per side; undefined if the symbol does not exist. */
export async function readBook(sql: Sql, sym: string, depth: number): Promise<Book | undefined> {
  const [row] = await sql.unsafe(BOOK_SQL, [sym, depth], { prepare: true });
  if (row === undefined || row.known !== true) {
    return undefined;
  }
  return { sym, bids: toLevels(row.bids), asks: toLevels(row.asks) };
}

/**
 * The trades of symbol $1 among the exchange's newest $3 executions (a bounded scan, whatever
 * the symbol's share of them): what both the trades and the candles read.
 */
const RECENT_EXECUTIONS_OF_SYMBOL = `
    SELECT e.id, e.price, e.shares, e.executed_at
    FROM (SELECT id, buy_order_id, price, shares, executed_at FROM executions
          ORDER BY id DESC LIMIT $3) AS e
    JOIN orders AS o ON o.id = e.buy_order_id
    WHERE o.sym = $1`;

const TRADES_SQL = `
  WITH recent AS (${RECENT_EXECUTIONS_OF_SYMBOL}
  )
  SELECT EXISTS (SELECT 1 FROM symbols WHERE sym = $1) AS known,
         (SELECT coalesce(json_agg(json_build_object(
                    'price', t.price::text, 'shares', t.shares::text, 'time', t.executed_at)
                  ORDER BY t.id DESC), '[]'::json)
          FROM (SELECT * FROM recent ORDER BY id DESC LIMIT $2) AS t) AS trades,
         (SELECT count(*) FROM recent
          WHERE executed_at >= floor(extract(epoch FROM now()))::bigint - 60) AS minute_trades,
         (SELECT coalesce(sum(shares), 0)::text FROM recent
          WHERE executed_at >= floor(extract(epoch FROM now()))::bigint - 60) AS minute_shares`;

/**
 * The newest `limit` trades of `sym` (newest first) among the exchange's newest `scanRows`
 * executions, and its last minute's activity; undefined if the symbol does not exist.
 */
export async function readTrades(
  sql: Sql,
  sym: string,
  limit: number,
  scanRows: number,
): Promise<Trades | undefined> {
  const [row] = await sql.unsafe(TRADES_SQL, [sym, limit, scanRows], { prepare: true });
  if (row === undefined || row.known !== true) {
    return undefined;
  }
  const trades = ((row.trades ?? []) as Array<{ price: string; shares: string; time: string }>)
    .map((trade) => ({
      price: formatDatabaseDecimal(trade.price),
      shares: formatDatabaseDecimal(trade.shares),
      time: Number(trade.time),
    }));
  return {
    sym,
    trades,
    tradesLastMinute: Number(row.minute_trades),
    sharesLastMinute: formatDatabaseDecimal(row.minute_shares as string),
  };
}

// Executions of one symbol are written under its book lock, so within a symbol a newer id never
// has an older `executed_at`: id order is time order, and the first/last by id are open/close.
// Prices are compared and shares summed as NUMERIC in PostgreSQL, never as floats.
const CANDLES_SQL = `
  WITH recent AS (${RECENT_EXECUTIONS_OF_SYMBOL}
    ORDER BY e.id DESC LIMIT $2
  )
  SELECT EXISTS (SELECT 1 FROM symbols WHERE sym = $1) AS known,
         (SELECT coalesce(json_agg(json_build_object(
                    'time', c.executed_at, 'open', c.open::text, 'high', c.high::text,
                    'low', c.low::text, 'close', c.close::text, 'shares', c.shares::text,
                    'trades', c.trades)
                  ORDER BY c.executed_at), '[]'::json)
          FROM (SELECT executed_at,
                       (array_agg(price ORDER BY id))[1] AS open,
                       max(price) AS high,
                       min(price) AS low,
                       (array_agg(price ORDER BY id DESC))[1] AS close,
                       sum(shares) AS shares,
                       count(*) AS trades
                FROM recent GROUP BY executed_at) AS c) AS candles`;

/**
 * The newest `trades` trades of `sym` among the exchange's newest `scanRows` executions, summed
 * per second, oldest second first; undefined if the symbol does not exist. The oldest second may
 * hold only part of its trades when the limit cuts through it.
 */
export async function readCandles(
  sql: Sql,
  sym: string,
  trades: number,
  scanRows: number,
): Promise<Candle[] | undefined> {
  const [row] = await sql.unsafe(CANDLES_SQL, [sym, trades, scanRows], { prepare: true });
  if (row === undefined || row.known !== true) {
    return undefined;
  }
  const raw = (row.candles ?? []) as Array<Record<string, string | number>>;
  return raw.map((candle) => ({
    time: Number(candle.time),
    open: formatDatabaseDecimal(String(candle.open)),
    high: formatDatabaseDecimal(String(candle.high)),
    low: formatDatabaseDecimal(String(candle.low)),
    close: formatDatabaseDecimal(String(candle.close)),
    shares: formatDatabaseDecimal(String(candle.shares)),
    trades: Number(candle.trades),
  }));
}

/** A cheap marker that moves whenever anything is written: the feed re-reads books only then. */
export async function writeMarker(sql: Sql): Promise<string> {
  const [row] = await sql`SELECT pg_current_wal_insert_lsn()::text AS lsn`;
  return row!.lsn as string;
}

/**
 * A small pool of its own for market data and readiness, to the same database as `db`: readers
 * of the book never take a connection the order path is waiting for.
 */
export function openMarketDataPool(
  db: Database,
  config: DatabaseConfig,
  poolSize: number,
  applicationName: string,
): Sql {
  const target: Target = config.url !== undefined
    ? { kind: "url", url: config.url }
    : clusterTarget(db.embedded!.location);
  return openPool(target, { ...config, poolSize }, applicationName, {
    fetchTypes: false,
    keyedOnly: true,
  });
}
