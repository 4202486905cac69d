/**
 * The decision of one batch: the orders and cancels queued on one or more books, decided in
 * arrival order exactly as if they ran one at a time. Pure: the caller reads the books, the
 * balances and positions under the book locks, and applies the returned writes.
 *
 * Each operation sees the effects of the ones before it in the batch, on its own book and on the
 * accounts it shares with other books: a buy refused for funds sees the cash an earlier fill (on
 * any book of the batch) paid its account; an order may fill against an order that an earlier
 * operation of the batch left resting; a cancel sees what earlier fills took.
 *
 * Books are read in pages. If an order would sweep past the last row read while the unread rows
 * could still cross, {@link decideBatch} answers `need_page` for that book and side; the caller
 * reads the next page and calls it again with the longer input. Deciding again from the start
 * keeps this function pure and simple; it is cheap (in-memory, at most a batch's worth of orders).
 *
 * Longer than 300 lines on purpose: its types and the one decision loop over a shared working
 * copy (books, balances, positions) are one piece; split, each part would need the other's
 * internals. What the decision writes is shaped for the database in batch_writes.ts.
 */
import { assert } from "./assert.ts";
import {
  add,
  compare,
  type Decimal,
  isPositive,
  isZero,
  multiply,
  subtract,
  ZERO,
} from "./decimal.ts";
import { crosses, matchOrder, type RestingOrder, type Side } from "./matching.ts";
import type { Refusal } from "./refusal.ts";
import { reservation, settle } from "./settlement.ts";

/**
 * Orders created in a batch get their transaction ids only once accepted, in the database. Until
 * then the batch refers to the n-th accepted order (0-based) as `NEW_ORDER_BASE + n`: larger than
 * any stored id, so price-time priority (lower id first at a price) holds for them too.
 */
export const NEW_ORDER_BASE = 1n << 62n;

/** True if `ref` names an order created by this batch. */
export function isNewOrderRef(ref: bigint): boolean {
  return ref >= NEW_ORDER_BASE;
}

/** A new order, validated: side and shares (positive) and limit. */
export interface BatchOrder {
  readonly kind: "order";
  readonly sym: string;
  readonly accountId: string;
  readonly side: Side;
  readonly shares: Decimal;
  readonly limit: Decimal;
}

/** A cancel of a stored order of `accountId`, on the book of `sym` (the order's symbol). */
export interface BatchCancel {
  readonly kind: "cancel";
  readonly sym: string;
  readonly accountId: string;
  readonly orderId: bigint;
}

export type BatchOp = BatchOrder | BatchCancel;

/** One side of the stored book, read in priority order, possibly only its first pages. */
export interface StoredSide {
  readonly rows: readonly RestingOrder[];
  /** True if `rows` is the whole side; else more rows follow the last one. */
  readonly complete: boolean;
}

/** A stored order that a cancel of the batch names, as read under the book lock. */
export interface CancelTarget {
  readonly id: bigint;
  readonly sym: string;
  readonly accountId: string;
  readonly side: Side;
  readonly limit: Decimal;
  readonly open: Decimal;
}

/** One book of the batch, as read under its lock. */
export interface StoredBook {
  readonly exists: boolean;
  /** Resting buys, highest limit first, then oldest. */
  readonly buys: StoredSide;
  /** Resting sells, lowest limit first, then oldest. */
  readonly sells: StoredSide;
  /** Positions in this symbol of the accounts that sell on it (absent: none). */
  readonly positions: ReadonlyMap<string, Decimal>;
}

/** What the database holds, read under the book locks. */
export interface BatchInput {
  /** In arrival order, across books. */
  readonly ops: readonly BatchOp[];
  /** Every book an operation names. */
  readonly books: ReadonlyMap<string, StoredBook>;
  /** Balances of the accounts that place buys, as read. */
  readonly balances: ReadonlyMap<string, Decimal>;
  /** The stored orders named by cancels (absent: no such order of that account here). */
  readonly cancelTargets: ReadonlyMap<bigint, CancelTarget>;
}

/** A trade between a buy and a sell; order refs may be {@link NEW_ORDER_BASE}-based. */
export interface BatchExecution {
  readonly buyRef: bigint;
  readonly sellRef: bigint;
  readonly shares: Decimal;
  readonly price: Decimal;
}

/** The answer of one operation. */
export type OpResult =
  | { readonly kind: "opened"; readonly ordinal: number }
  | {
    readonly kind: "canceled";
    readonly orderId: bigint;
    readonly shares: Decimal;
    /** How many of the batch's executions had happened when the cancel ran. */
    readonly executionsBefore: number;
  }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** An order the batch creates, with what is open once the whole batch has run. */
export interface NewOrderRecord {
  readonly sym: string;
  readonly accountId: string;
  readonly side: Side;
  readonly shares: Decimal;
  readonly limit: Decimal;
  open: Decimal;
}

/** A stored order's state once the whole batch has run. */
export interface StoredOrderChange {
  open: Decimal;
  /** Shares canceled by this batch (zero if not canceled). */
  canceled: Decimal;
}

/** Everything the batch writes, as net changes, plus one answer per operation. */
export interface BatchDecision {
  readonly kind: "decided";
  readonly results: readonly OpResult[];
  readonly newOrders: readonly NewOrderRecord[];
  readonly storedChanges: ReadonlyMap<bigint, StoredOrderChange>;
  readonly executions: readonly BatchExecution[];
  /** Net cash change per account (zero entries dropped). */
  readonly cash: ReadonlyMap<string, Decimal>;
  /** Net change of each account's position, per symbol (zero entries dropped). */
  readonly shares: ReadonlyMap<string, ReadonlyMap<string, Decimal>>;
  /**
   * Balances the decision relied on, as read: the apply step verifies them under the account
   * locks, since another book's batch may have changed a balance after it was read.
   */
  readonly reliedBalances: ReadonlyMap<string, Decimal>;
}

/** The decision needs more of a stored side: read the page after its last row and decide again. */
export interface NeedPage {
  readonly kind: "need_page";
  readonly sym: string;
  /** The side of the book (the resting orders' side) to read further. */
  readonly side: Side;
}

/** A resting order in the batch's working copy of the book. */
interface Entry extends RestingOrder {
  open: Decimal;
  /** Set for an order created by this batch. */
  readonly record: NewOrderRecord | undefined;
}

/** A side of the working book: stored rows read so far, merged with the batch's new orders. */
class WorkingSide {
  readonly side: Side;
  readonly entries: Entry[];
  readonly complete: boolean;
  /** The last stored row read: nothing beyond it in priority is known. */
  readonly lastStored: RestingOrder | undefined;

  constructor(side: Side, stored: StoredSide) {
    this.side = side;
    this.entries = stored.rows.map((row) => ({ ...row, record: undefined }));
    this.complete = stored.complete;
    this.lastStored = stored.rows.at(-1);
  }

  /** True if `a` has priority over `b` on this side (best price, then lowest id). */
  precedes(a: RestingOrder, b: RestingOrder): boolean {
    const byPrice = compare(a.limit, b.limit);
    if (byPrice !== 0) {
      return this.side === "buy" ? byPrice > 0 : byPrice < 0;
    }
    return a.id < b.id;
  }

  /** The entries known to be the head of the side: all of them up to the last stored row read. */
  knownHead(): Entry[] {
    if (this.complete) {
      return this.entries;
    }
    const last = this.lastStored;
    if (last === undefined) {
      return [];
    }
    const end = this.entries.findIndex((e) => e.id !== last.id && this.precedes(last, e));
    return end < 0 ? this.entries : this.entries.slice(0, end);
  }

  /** Whether rows not yet read could still cross an incoming order at `limit`. */
  unreadMayCross(incoming: Side, limit: Decimal): boolean {
    if (this.complete) {
      return false;
    }
    // Unread rows come after the last row read, so at its price or worse.
    return this.lastStored === undefined || crosses(incoming, limit, this.lastStored.limit);
  }

  insert(entry: Entry): void {
    const at = this.entries.findIndex((e) => this.precedes(entry, e));
    if (at < 0) {
      this.entries.push(entry);
    } else {
      this.entries.splice(at, 0, entry);
    }
  }

  remove(entry: Entry): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) {
      this.entries.splice(at, 1);
    }
  }
}

function credit(map: Map<string, Decimal>, accountId: string, amount: Decimal): void {
  const total = add(map.get(accountId) ?? ZERO, amount);
  if (isZero(total)) {
    map.delete(accountId);
  } else {
    map.set(accountId, total);
  }
}

/** The batch's working copy of one book. */
interface WorkingBook {
  readonly buy: WorkingSide;
  readonly sell: WorkingSide;
  readonly stored: StoredBook;
}

/** Decides every operation of the batch in order, or asks for another page of a book. */
export function decideBatch(input: BatchInput): BatchDecision | NeedPage {
  const books = new Map<string, WorkingBook>();
  const storedEntries = new Map<bigint, Entry>();
  for (const [sym, stored] of input.books) {
    const book = {
      buy: new WorkingSide("buy", stored.buys),
      sell: new WorkingSide("sell", stored.sells),
      stored,
    };
    books.set(sym, book);
    for (const side of [book.buy, book.sell]) {
      for (const entry of side.entries) {
        storedEntries.set(entry.id, entry);
      }
    }
  }
  const results: OpResult[] = [];
  const newOrders: NewOrderRecord[] = [];
  const storedChanges = new Map<bigint, StoredOrderChange>();
  const executions: BatchExecution[] = [];
  const cash = new Map<string, Decimal>();
  const shares = new Map<string, Map<string, Decimal>>();
  const reliedBalances = new Map<string, Decimal>();

  const changeOf = (id: bigint, open: Decimal): StoredOrderChange => {
    let change = storedChanges.get(id);
    if (change === undefined) {
      change = { open, canceled: ZERO };
      storedChanges.set(id, change);
    }
    return change;
  };
  const sharesOf = (sym: string): Map<string, Decimal> => {
    let map = shares.get(sym);
    if (map === undefined) {
      map = new Map();
      shares.set(sym, map);
    }
    return map;
  };

  for (const op of input.ops) {
    const book = books.get(op.sym);
    assert(book !== undefined, `book ${op.sym} of an operation was not read`);
    if (op.kind === "cancel") {
      const target = input.cancelTargets.get(op.orderId);
      if (target === undefined || target.accountId !== op.accountId || target.sym !== op.sym) {
        results.push({ kind: "refused", refusal: { kind: "unknown_order" } });
        continue;
      }
      const entry = storedEntries.get(target.id);
      const open = entry?.open ?? storedChanges.get(target.id)?.open ?? target.open;
      if (!isPositive(open)) {
        results.push({ kind: "refused", refusal: { kind: "nothing_open" } });
        continue;
      }
      if (entry !== undefined) {
        entry.open = ZERO;
        book[target.side].remove(entry);
      }
      const change = changeOf(target.id, open);
      change.open = ZERO;
      change.canceled = open;
      if (target.side === "buy") {
        credit(cash, op.accountId, multiply(open, target.limit));
      } else {
        credit(sharesOf(op.sym), op.accountId, open);
      }
      results.push({
        kind: "canceled",
        orderId: target.id,
        shares: open,
        executionsBefore: executions.length,
      });
      continue;
    }

    if (!book.stored.exists) {
      results.push({ kind: "refused", refusal: { kind: "unknown_symbol", sym: op.sym } });
      continue;
    }
    const needed = reservation(op);
    if (op.side === "buy") {
      const read = input.balances.get(op.accountId);
      assert(read !== undefined, `balance of buyer ${op.accountId} was not read`);
      reliedBalances.set(op.accountId, read);
      const balance = add(read, cash.get(op.accountId) ?? ZERO);
      if (compare(needed, balance) > 0) {
        results.push({ kind: "refused", refusal: { kind: "insufficient_funds", needed, balance } });
        continue;
      }
    } else {
      const position = add(
        book.stored.positions.get(op.accountId) ?? ZERO,
        shares.get(op.sym)?.get(op.accountId) ?? ZERO,
      );
      if (compare(needed, position) > 0) {
        results.push({
          kind: "refused",
          refusal: { kind: "insufficient_shares", sym: op.sym, needed, position },
        });
        continue;
      }
    }

    // Accepted: match against the other side, as far as the rows read allow.
    const ordinal = newOrders.length;
    const id = NEW_ORDER_BASE + BigInt(ordinal);
    const other = book[op.side === "buy" ? "sell" : "buy"];
    const head = other.knownHead();
    const matched = matchOrder(op.side, op.limit, op.shares, head);
    if (
      isPositive(matched.remaining) && matched.fills.length === head.length &&
      other.unreadMayCross(op.side, op.limit)
    ) {
      return { kind: "need_page", sym: op.sym, side: other.side };
    }
    const settlement = settle(
      { id, accountId: op.accountId, side: op.side, shares: op.shares, limit: op.limit },
      matched.fills,
    );
    for (const [account, delta] of settlement.cash) {
      credit(cash, account, delta);
    }
    for (const [account, delta] of settlement.shares) {
      credit(sharesOf(op.sym), account, delta);
    }
    for (const fill of matched.fills) {
      const entry = fill.resting as Entry;
      entry.open = subtract(entry.open, fill.shares);
      assert(compare(entry.open, ZERO) >= 0, `order ${entry.id} filled beyond its open amount`);
      if (entry.record !== undefined) {
        entry.record.open = entry.open;
      } else {
        changeOf(entry.id, entry.open).open = entry.open;
      }
      if (isZero(entry.open)) {
        other.remove(entry);
      }
    }
    for (const execution of settlement.executions) {
      executions.push({
        buyRef: execution.buyOrderId,
        sellRef: execution.sellOrderId,
        shares: execution.shares,
        price: execution.price,
      });
    }
    const record: NewOrderRecord = {
      sym: op.sym,
      accountId: op.accountId,
      side: op.side,
      shares: op.shares,
      limit: op.limit,
      open: settlement.incomingOpen,
    };
    newOrders.push(record);
    if (isPositive(record.open)) {
      book[op.side].insert({
        id,
        accountId: op.accountId,
        limit: op.limit,
        open: record.open,
        record,
      });
    }
    results.push({ kind: "opened", ordinal });
  }
  for (const [sym, map] of shares) {
    if (map.size === 0) {
      shares.delete(sym);
    }
  }
  return {
    kind: "decided",
    results,
    newOrders,
    storedChanges,
    executions,
    cash,
    shares,
    reliedBalances,
  };
}
