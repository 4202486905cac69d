/**
 * Round trip 1 of a batch (src/db/book_batch.ts), under the book locks: the first page of each
 * side of the books the batch's orders meet, the balances of the accounts that buy, the
 * positions of the accounts that sell, the orders named by cancels and their executions, the
 * orders that hold the references the batch's orders carry; and the further pages the decision
 * asks for. Reads only; the apply step is in book_batch.ts.
 */
import { type BatchOp, type CancelTarget, refKey, type RefOwner } from "../exchange/batch_types.ts";
import type { SelfTradeMode, TimeInForce } from "../exchange/order_options.ts";
import { abs, type Decimal, decimalFromDatabase, formatDecimal } from "../exchange/decimal.ts";
import type { RestingOrder, Side } from "../exchange/matching.ts";
import type { Sql } from "./database.ts";
import { pgArray } from "./pg_array.ts";
import { type ExecutionView, executionView } from "./orders.ts";

/** Resting orders read per side in round trip 1, before those the batch's orders add. */
export const FIRST_BOOK_PAGE_ORDERS = 8;
/** Further rows per side for each order of the batch that meets it (most fill 1-3 orders). */
export const BOOK_PAGE_ORDERS_PER_ORDER = 2;
/**
 * Largest page read at once, when an order sweeps deep into the book. Larger caps did not
 * measurably help: a sweep of 60,000 rows read in 64 pages (cap 1024), 22 (4096) or 13 (16384)
 * spent 0.4-0.6 s reading either way (decoding rows, not round trips), on a loaded machine.
 */
export const BOOK_PAGE_ORDERS_MAX = 1024;

/**
 * One book as round trip 1 read it (the first page of each side the batch meets: the
 * decision's input), and where each side's next page starts.
 */
interface ReadBook {
  exists: boolean;
  buys: { rows: RestingOrder[]; complete: boolean };
  sells: { rows: RestingOrder[]; complete: boolean };
  positions: Map<string, Decimal>;
  /** Rows asked for by the last page read of each side (0: not read). */
  pageSize: { buy: number; sell: number };
  /** The last row read of each side: the next page is the rows after it. */
  last: { buy: RestingOrder | undefined; sell: RestingOrder | undefined };
}

/** Everything round trip 1 read, and the decision input built from it. */
export interface ReadState {
  input: {
    ops: readonly BatchOp[];
    books: Map<string, ReadBook>;
    balances: Map<string, Decimal>;
    cancelTargets: Map<bigint, CancelTarget>;
    storedRefs?: Map<string, RefOwner>;
  };
  now: string;
  /** Every order id drawn after round trip 1 is larger: where to look for the batch's orders. */
  idFloor: string;
  /** Stored executions of the orders named by cancels, oldest first. */
  storedExecutions: Map<bigint, ExecutionView[]>;
}

/** A row as the driver returns it. */
type Row = Record<string, unknown>;

/** The books a batch's first pages are read from, and how many rows each page asks for. */
interface PageSet {
  readonly syms: readonly string[];
  readonly sizes: readonly number[];
}

/**
 * Round trip 1: locks the books of `ops` and reads what their decision needs. `lockFirst`: the
 * accounts to lock in the same round trip (a stale-balance rerun; see book_batch.ts).
 */
export async function readUnderLock(
  tx: Sql,
  ops: readonly BatchOp[],
  lockFirst: readonly string[],
): Promise<ReadState> {
  const buyers = new Set<string>();
  const sellers: Array<[string, string]> = [];
  const cancelIds: string[] = [];
  const refs: Array<[string, string]> = [];
  /** Per book: orders of the batch that meet its sell side (buys) and its buy side (sells). */
  const meeting = new Map<string, { sell: number; buy: number }>();
  for (const op of ops) {
    const count = meeting.get(op.sym) ?? { sell: 0, buy: 0 };
    meeting.set(op.sym, count);
    if (op.kind === "cancel") {
      cancelIds.push(op.orderId.toString());
    } else if (op.side === "buy") {
      buyers.add(op.accountId);
      count.sell++;
    } else {
      sellers.push([op.accountId, op.sym]);
      count.buy++;
    }
    if (op.kind === "order" && op.ref !== undefined) {
      refs.push([op.accountId, op.ref]);
    }
  }
  const syms = [...meeting.keys()].sort();
  const pages = (which: Side): PageSet => {
    const wanted = syms.filter((sym) => meeting.get(sym)![which] > 0);
    return { syms: wanted, sizes: wanted.map((sym) => firstPageSize(meeting.get(sym)![which])) };
  };
  const sellPages = pages("sell");
  const buyPages = pages("buy");
  // One round trip: every statement is sent (`.execute()`) as its property is written, right
  // behind BEGIN, and PostgreSQL runs them in that order, so everything after the book locks
  // runs under them, each with a fresh snapshot (READ COMMITTED).
  const rows = await allOf({
    symbols: lockBooks(tx, syms),
    balances: readBalances(tx, buyers, lockFirst),
    positions: readPositions(tx, sellers),
    sells: readFirstPages(tx, "sell", sellPages),
    buys: readFirstPages(tx, "buy", buyPages),
    cancelTargets: readCancelTargets(tx, cancelIds),
    cancelExecutions: readCancelExecutions(tx, cancelIds),
    refOwners: readRefOwners(tx, refs),
  });
  const books = new Map<string, ReadBook>();
  for (const sym of syms) {
    books.set(sym, {
      exists: false,
      buys: { rows: [], complete: false },
      sells: { rows: [], complete: false },
      positions: new Map(),
      pageSize: { buy: 0, sell: 0 },
      last: { buy: undefined, sell: undefined },
    });
  }
  for (const row of rows.symbols) {
    books.get(row.sym as string)!.exists = true;
  }
  placeFirstPages(books, "sell", sellPages, rows.sells);
  placeFirstPages(books, "buy", buyPages, rows.buys);
  const balances = new Map<string, Decimal>();
  for (const row of rows.balances) {
    balances.set(row.id as string, decimalFromDatabase(row.balance as string));
  }
  for (const row of rows.positions) {
    books.get(row.sym as string)!.positions.set(
      row.account_id as string,
      decimalFromDatabase(row.shares as string),
    );
  }
  const cancelTargets = new Map<bigint, CancelTarget>();
  for (const row of rows.cancelTargets) {
    const amount = decimalFromDatabase(row.amount as string);
    cancelTargets.set(BigInt(row.id as string), {
      id: BigInt(row.id as string),
      sym: row.sym as string,
      accountId: row.account_id as string,
      side: amount.units > 0n ? "buy" : "sell",
      limit: decimalFromDatabase(row.limit_price as string),
      open: decimalFromDatabase(row.open_shares as string),
    });
  }
  const storedExecutions = new Map<bigint, ExecutionView[]>();
  for (const row of rows.cancelExecutions) {
    const view = executionView(row);
    for (const id of [BigInt(row.buy_order_id as string), BigInt(row.sell_order_id as string)]) {
      if (cancelTargets.has(id)) {
        const list = storedExecutions.get(id) ?? [];
        list.push(view);
        storedExecutions.set(id, list);
      }
    }
  }
  const first = rows.symbols[0];
  const input: ReadState["input"] = { ops, books, balances, cancelTargets };
  if (refs.length > 0) {
    input.storedRefs = new Map();
    for (const row of rows.refOwners) {
      const amount = decimalFromDatabase(row.amount as string);
      input.storedRefs.set(refKey(row.account_id as string, row.client_ref as string), {
        order: BigInt(row.id as string),
        sym: row.sym as string,
        side: amount.units > 0n ? "buy" : "sell",
        shares: abs(amount),
        limit: decimalFromDatabase(row.limit_price as string),
        tif: row.time_in_force as TimeInForce,
        stp: row.self_trade as SelfTradeMode,
      });
    }
  }
  return {
    input,
    now: first !== undefined ? String(first.now) : "0",
    idFloor: first !== undefined ? first.id_floor as string : "0",
    storedExecutions,
  };
}

/**
 * `Promise.all` over named promises: resolves with each one's value under its name, or rejects
 * with the first rejection (every rejection is handled, none is left unobserved).
 */
async function allOf<T extends Record<string, Promise<unknown>>>(
  promises: T,
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const names = Object.keys(promises);
  const values = await Promise.all(Object.values(promises));
  return Object.fromEntries(names.map((name, i) => [name, values[i]])) as {
    [K in keyof T]: Awaited<T[K]>;
  };
}

/** A read that is not needed: no statement is sent. */
function noRows(): Promise<Row[]> {
  return Promise.resolve([]);
}

/**
 * Level 1 of the global lock order: the books, ascending, in one statement. It also reads the
 * transaction time and the order id sequence's position: where an in-doubt COMMIT's resolution
 * looks for this batch's orders (book_batch.ts). (A scalar subquery: a sequence in the FROM list
 * of a FOR UPDATE cannot be row-marked.)
 */
function lockBooks(tx: Sql, syms: readonly string[]): Promise<Row[]> {
  return tx`SELECT sym, floor(extract(epoch FROM now()))::bigint AS now,
                (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                 FROM order_ids)::text AS id_floor
         FROM symbols WHERE sym = ANY(${pgArray(syms)}::text[])
         ORDER BY sym COLLATE "C" FOR UPDATE`.execute();
}

/**
 * The balances of the accounts that buy. On a stale-balance rerun (`lockFirst` not empty) the
 * same statement locks them and `lockFirst`, ascending (level 3 of the lock order, taken early),
 * so that no balance the decision reads can change before the apply call.
 */
function readBalances(
  tx: Sql,
  buyers: ReadonlySet<string>,
  lockFirst: readonly string[],
): Promise<Row[]> {
  if (lockFirst.length > 0) {
    const lockIds = [...new Set([...lockFirst, ...buyers])];
    return tx`SELECT id, balance FROM accounts WHERE id = ANY(${pgArray(lockIds)}::text[])
             ORDER BY id COLLATE "C" FOR UPDATE`.execute();
  }
  if (buyers.size === 0) {
    return noRows();
  }
  return tx`SELECT id, balance FROM accounts WHERE id = ANY(${pgArray([...buyers])}::text[])`
    .execute();
}

/** The positions of the accounts that sell, each in the symbol it sells: `[account, sym]`. */
function readPositions(tx: Sql, sellers: ReadonlyArray<[string, string]>): Promise<Row[]> {
  if (sellers.length === 0) {
    return noRows();
  }
  return tx`SELECT p.account_id, p.sym, p.shares
             FROM unnest(${pgArray(sellers.map(([id]) => id))}::text[],
                         ${pgArray(sellers.map(([, sym]) => sym))}::text[]) AS s(account_id, sym)
             JOIN positions AS p ON p.account_id = s.account_id AND p.sym = s.sym`.execute();
}

/** The first page of one side of the books in `pages`, in one statement. */
function readFirstPages(tx: Sql, which: Side, pages: PageSet): Promise<Row[]> {
  if (pages.syms.length === 0) {
    return noRows();
  }
  return firstPages(tx, which, pages.syms, pages.sizes).execute();
}

/** The stored orders that cancels name (any account's: the decision checks the owner). */
function readCancelTargets(tx: Sql, cancelIds: readonly string[]): Promise<Row[]> {
  if (cancelIds.length === 0) {
    return noRows();
  }
  return tx`SELECT id, sym, account_id, amount, limit_price, open_shares FROM orders
             WHERE id = ANY(${pgArray(cancelIds)}::bigint[])`.execute();
}

/** The executions of the orders that cancels name, oldest first: a cancel's answer lists them. */
function readCancelExecutions(tx: Sql, cancelIds: readonly string[]): Promise<Row[]> {
  if (cancelIds.length === 0) {
    return noRows();
  }
  return tx`SELECT buy_order_id, sell_order_id, shares, price, executed_at FROM executions
             WHERE buy_order_id = ANY(${pgArray(cancelIds)}::bigint[])
                OR sell_order_id = ANY(${pgArray(cancelIds)}::bigint[])
             ORDER BY id`.execute();
}

/**
 * The accepted orders that hold the references of the batch's orders: `[account, ref]`. Not
 * locked: an order's reference and values never change once stored, and one stored by a
 * concurrent batch after this read is caught by the unique index when this batch inserts.
 */
function readRefOwners(tx: Sql, refs: ReadonlyArray<[string, string]>): Promise<Row[]> {
  if (refs.length === 0) {
    return noRows();
  }
  return tx`SELECT o.id, o.account_id, o.client_ref, o.sym, o.amount, o.limit_price,
                   o.time_in_force, o.self_trade
             FROM unnest(${pgArray(refs.map(([id]) => id))}::text[],
                         ${
    pgArray(refs.map(([, ref]) => ref))
  }::text[]) AS r(account_id, client_ref)
             JOIN orders AS o ON o.account_id = r.account_id AND o.client_ref = r.client_ref`
    .execute();
}

/** Puts each book's first page of one side, as read, into `books`. */
function placeFirstPages(
  books: Map<string, ReadBook>,
  which: Side,
  pages: PageSet,
  rows: readonly Row[],
): void {
  pages.syms.forEach((sym, index) => {
    const book = books.get(sym)!;
    const side = which === "buy" ? book.buys : book.sells;
    book.pageSize[which] = pages.sizes[index]!;
    side.rows = rows.filter((row) => row.sym === sym).map(toRestingOrder);
    side.complete = side.rows.length < pages.sizes[index]!;
    book.last[which] = side.rows.at(-1);
  });
}

/** Rows for the orders of the batch that meet a side: a base page plus a few per order. */
function firstPageSize(orders: number): number {
  return Math.min(
    BOOK_PAGE_ORDERS_MAX,
    FIRST_BOOK_PAGE_ORDERS + BOOK_PAGE_ORDERS_PER_ORDER * orders,
  );
}

/** A further page of one side of a book. */
export interface BookPage {
  readonly rows: readonly RestingOrder[];
  /** No rows follow these. */
  readonly complete: boolean;
}

/**
 * Reads the page after the last row read of one side of `sym`, twice as large as the last one
 * (so a sweep of n rows takes O(log n) pages up to the cap, then n / cap).
 */
export async function readNextPage(
  tx: Sql,
  read: ReadState,
  sym: string,
  which: Side,
): Promise<BookPage> {
  const book = read.input.books.get(sym)!;
  const size = Math.min(
    BOOK_PAGE_ORDERS_MAX,
    Math.max(FIRST_BOOK_PAGE_ORDERS, book.pageSize[which] * 2),
  );
  book.pageSize[which] = size;
  const after = book.last[which];
  const rows =
    (await (after === undefined
      ? firstPages(tx, which, [sym], [size])
      : bookPage(tx, sym, which, after, size))).map(toRestingOrder);
  book.last[which] = rows.at(-1) ?? after;
  return { rows, complete: rows.length < size };
}

/**
 * The first page of one side of several books, in one statement: per book, its best `size` rows
 * in priority order (a LATERAL per book walks that book's partial index); the outer ORDER BY
 * states that order instead of trusting the plan to keep it. Not `FOR UPDATE`: the symbol locks
 * exclude every other writer of these books, and a row lock per page row cost a WAL record and a
 * dirtied page each (WAL per order 1.9-2.6 kB with them, 1.2 kB without, measured on the
 * one-order path).
 */
function firstPages(tx: Sql, which: Side, syms: readonly string[], sizes: readonly number[]) {
  if (which === "sell") {
    return tx`
      SELECT o.sym, o.id, o.account_id, o.open_shares, o.limit_price
      FROM unnest(${pgArray(syms)}::text[], ${pgArray(sizes)}::int[])
           WITH ORDINALITY AS b(sym, size, n)
      CROSS JOIN LATERAL (
        SELECT sym, id, account_id, open_shares, limit_price FROM orders
        WHERE sym = b.sym AND amount < 0 AND open_shares > 0
        ORDER BY limit_price, id
        LIMIT b.size
      ) AS o
      ORDER BY b.n, o.limit_price, o.id`;
  }
  return tx`
    SELECT o.sym, o.id, o.account_id, o.open_shares, o.limit_price
    FROM unnest(${pgArray(syms)}::text[], ${pgArray(sizes)}::int[])
         WITH ORDINALITY AS b(sym, size, n)
    CROSS JOIN LATERAL (
      SELECT sym, id, account_id, open_shares, limit_price FROM orders
      WHERE sym = b.sym AND amount > 0 AND open_shares > 0
      ORDER BY limit_price DESC, id
      LIMIT b.size
    ) AS o
    ORDER BY b.n, o.limit_price DESC, o.id`;
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
 * A further page of one side of a book, in priority order, after `after` (keyset pagination):
 * the rest of `after`'s price level, then the worse levels, each branch an index range scan.
 * Measured (issue 19): one condition `$price IS NULL OR (limit_price, id) > (...)` could not
 * bound the index scan in the generic plan (`plan_cache_mode`, src/db/database.ts); every page
 * walked the side from its best row and filtered (a page 50,000 rows deep: 177 ms, 50,082 rows
 * removed by the filter; this form: 2.7 ms), so a sweep of 60,000 rows spent 2.5 s reading.
 */
function bookPage(tx: Sql, sym: string, which: Side, after: RestingOrder, size: number) {
  const price = formatDecimal(after.limit);
  const id = after.id.toString();
  if (which === "sell") {
    // Sells: lowest limit first, then oldest.
    return tx`
      SELECT id, account_id, open_shares, limit_price FROM (
        (SELECT id, account_id, open_shares, limit_price FROM orders
         WHERE sym = ${sym} AND amount < 0 AND open_shares > 0
           AND limit_price = ${price}::numeric AND id > ${id}::bigint
         ORDER BY id LIMIT ${size})
        UNION ALL
        (SELECT id, account_id, open_shares, limit_price FROM orders
         WHERE sym = ${sym} AND amount < 0 AND open_shares > 0 AND limit_price > ${price}::numeric
         ORDER BY limit_price, id LIMIT ${size})
      ) AS page
      ORDER BY limit_price, id
      LIMIT ${size}`;
  }
  // Buys: highest limit first, then oldest.
  return tx`
    SELECT id, account_id, open_shares, limit_price FROM (
      (SELECT id, account_id, open_shares, limit_price FROM orders
       WHERE sym = ${sym} AND amount > 0 AND open_shares > 0
         AND limit_price = ${price}::numeric AND id > ${id}::bigint
       ORDER BY id LIMIT ${size})
      UNION ALL
      (SELECT id, account_id, open_shares, limit_price FROM orders
       WHERE sym = ${sym} AND amount > 0 AND open_shares > 0 AND limit_price < ${price}::numeric
       ORDER BY limit_price DESC, id LIMIT ${size})
    ) AS page
    ORDER BY limit_price DESC, id
    LIMIT ${size}`;
}
