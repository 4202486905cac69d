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
 * Books are read in pages, so the decision is an object the caller drives: {@link
 * BatchDecider.run} decides operations until all are decided, or until an order would sweep past
 * the last row read of a side whose unread rows could still cross; it then answers `need_page`
 * for that book and side. The caller reads the next page, hands it over with
 * {@link BatchDecider.addPage} and calls `run` again, which resumes where it stopped: in the
 * middle of that order's match, every earlier operation's effects kept. (Deciding again from the
 * start after every page made a deep sweep quadratic: one buy sweeping 60,000 resting sells
 * spent 15.9 s deciding; issue 19.)
 *
 * Bounded work: an order that would take the batch past `rowsMax` resting orders filled is not
 * decided here if anything was decided before it: its match is undone and it and the operations
 * after it go to the next batch, where it comes first. An order is atomic, so one that alone
 * fills more is decided whole, and then nothing after it is. So a deep sweep runs in a batch of
 * its own, and the other books' operations are never held in its transaction (issue 19: in one
 * bench run, 4 of the 8 orders of another book waited the whole 2.9 s of a 60,000-row sweep).
 *
 * The optional instructions of an order (issue 20, src/exchange/order_options.ts) fit the same
 * sequence, each at one point of an order's decision:
 * - a reference already held by an accepted order of the account (stored, or placed earlier in
 *   the batch) answers that order (`repeat`) before anything is checked or matched;
 * - self-trade prevention acts inside the match, on the resting orders of the order's own account
 *   that it would trade with; those it cancels are marked dead at once (a resumed match skips
 *   them) and settled with the order;
 * - once the match is complete (every page it needs read), a fill-or-kill order that did not
 *   fill completely is undone exactly like an order over the rows bound (its fills and the
 *   resting orders it canceled live again, the side rewound) and refused; an IOC order, or one
 *   stopped by `cancel-newest`, is settled with its rest canceled instead of resting.
 */
import { assert } from "./assert.ts";
import { add, compare, type Decimal, isPositive, multiply, subtract, ZERO } from "./decimal.ts";
import { type Fill, matchOrder, otherSide, type RestingOrder, type Side } from "./matching.ts";
import { credit, reservation, settle } from "./settlement.ts";
import {
  type BatchCancel,
  type BatchDecision,
  type BatchExecution,
  type BatchInput,
  type BatchOrder,
  isDetailedOrder,
  type NeedPage,
  NEW_ORDER_BASE,
  type NewOrderRecord,
  type OpResult,
  refKey,
  type RefOwner,
  type StoredBook,
  type StoredOrderChange,
} from "./batch_types.ts";
import { type Entry, type SideMark, WorkingSide } from "./working_side.ts";

/** How much one batch may do. */
export interface DecisionLimits {
  /** Resting orders filled, after which the operations not yet decided wait for the next batch. */
  readonly rowsMax: number;
}

/** The batch's working copy of one book. */
interface WorkingBook {
  readonly buy: WorkingSide<NewOrderRecord>;
  readonly sell: WorkingSide<NewOrderRecord>;
  readonly stored: StoredBook;
}

/** An accepted order whose match is under way; it may wait for a page between two steps. */
interface Matching {
  readonly op: BatchOrder;
  readonly fills: Fill[];
  remaining: Decimal;
  /** Where the side it fills against started, and each fill's prior state: to undo it. */
  readonly mark: SideMark;
  readonly undo: Array<{ entry: Entry<NewOrderRecord>; open: Decimal; change: Decimal | null }>;
  /** Resting orders of its own account that it cancels (`cancel-oldest`), with what each had open. */
  readonly selfCanceled: Array<{ entry: Entry<NewOrderRecord>; open: Decimal }>;
  /** It met an order of its own account with `cancel-newest`: no more matching, its rest cancels. */
  stopped: boolean;
  /** The account whose balance this order was the first to rely on, if any. */
  readonly relied: string | undefined;
}

/** Decides the operations of one batch in arrival order, page by page; see the module comment. */
export class BatchDecider {
  readonly #input: BatchInput;
  readonly #rowsMax: number;
  readonly #books = new Map<string, WorkingBook>();
  /** The stored rows read that cancels of the batch name, by id: where a cancel finds its entry. */
  readonly #namedEntries = new Map<bigint, Entry<NewOrderRecord>>();
  /** The next operation to decide. */
  #next = 0;
  #matching: Matching | undefined;
  #rowsSwept = 0;
  #decision: BatchDecision | undefined;
  readonly #results: OpResult[] = [];
  readonly #newOrders: NewOrderRecord[] = [];
  readonly #storedChanges = new Map<bigint, StoredOrderChange>();
  readonly #executions: BatchExecution[] = [];
  readonly #cash = new Map<string, Decimal>();
  readonly #shares = new Map<string, Map<string, Decimal>>();
  readonly #reliedBalances = new Map<string, Decimal>();
  /** References taken, by `refKey`: the stored ones read, then those of the batch's orders. */
  readonly #refs: Map<string, RefOwner>;

  constructor(input: BatchInput, limits: DecisionLimits) {
    assert(limits.rowsMax >= 1, "a batch must be allowed to fill at least one row");
    this.#input = input;
    this.#rowsMax = limits.rowsMax;
    this.#refs = new Map(input.storedRefs ?? []);
    for (const [sym, stored] of input.books) {
      this.#books.set(sym, this.#workingBook(stored));
    }
  }

  /** The working copy of a book as round trip 1 read it. */
  #workingBook(stored: StoredBook): WorkingBook {
    const book = {
      buy: new WorkingSide<NewOrderRecord>("buy"),
      sell: new WorkingSide<NewOrderRecord>("sell"),
      stored,
    };
    // A side no order of the batch meets is not read: it stays unknown (not complete).
    for (const [side, rows] of [["buy", stored.buys], ["sell", stored.sells]] as const) {
      if (rows.rows.length > 0 || rows.complete) {
        book[side].addStored(rows.rows.map((row) => this.#storedEntry(row)), rows.complete);
      }
    }
    return book;
  }

  /**
   * Hands over the next page of one side of `sym` (the rows after the last one read, in
   * priority order); `complete`: no rows follow them.
   */
  addPage(sym: string, side: Side, rows: readonly RestingOrder[], complete: boolean): void {
    const book = this.#books.get(sym);
    assert(book !== undefined, `a page of book ${sym}, which the batch did not read`);
    book[side].addStored(rows.map((row) => this.#storedEntry(row)), complete);
  }

  /**
   * A stored row's working entry. A cancel of the batch may have named the order before its page
   * was read: what it left open (nothing) is what the entry holds. (Fills only ever take rows
   * already read, so a cancel is the only change a row can have before it is read.) Only the
   * orders that cancels name are looked up by id: with a map entry per row read, hash-map
   * lookups were the largest single item of a 60,000-row sweep's decision profile (13% of its
   * samples; 6% without).
   */
  #storedEntry(row: RestingOrder): Entry<NewOrderRecord> {
    const named = this.#input.cancelTargets.size > 0 && this.#input.cancelTargets.has(row.id);
    const entry = {
      id: row.id,
      accountId: row.accountId,
      limit: row.limit,
      open: named ? this.#storedChanges.get(row.id)?.open ?? row.open : row.open,
      record: undefined,
    };
    if (named) {
      this.#namedEntries.set(row.id, entry);
    }
    return entry;
  }

  /**
   * How many operations this decision will decide at most, once that is known before it ends:
   * when the order being matched came first and has already filled past the rows bound, nothing
   * after it will be decided (it is decided whole, being atomic). Undefined while any later
   * operation may still be decided. A caller uses it to let the others go to the next batch
   * without reading the rest of a deep sweep first. (A fill-or-kill order is left out: if it is
   * killed it fills nothing, and the operations after it are decided.)
   */
  decidedAtMost(): number | undefined {
    const matching = this.#matching;
    if (
      matching === undefined || this.#results.length > 0 || matching.op.tif === "FOK" ||
      this.#rowsSwept + matching.fills.length + matching.selfCanceled.length <= this.#rowsMax
    ) {
      return undefined;
    }
    return this.#next;
  }

  /**
   * Decides on from where it stopped: answers the decision once every operation is decided (or
   * the rows bound is reached), or `need_page` when an order needs more of a side first.
   */
  run(): BatchDecision | NeedPage {
    if (this.#decision !== undefined) {
      return this.#decision;
    }
    for (;;) {
      if (this.#matching !== undefined) {
        const needed = this.#match(this.#matching);
        if (needed === "over_bound") {
          // Undone: this order and the ones after it wait for the next batch.
          this.#unmatch(this.#matching);
          this.#matching = undefined;
          this.#next--;
          break;
        }
        if (needed !== undefined) {
          return needed;
        }
        const { op, remaining } = this.#matching;
        if (op.tif === "FOK" && isPositive(remaining)) {
          // Killed: nothing of it happened. The balance its funds check read still decided the
          // answer (enough funds, so this refusal rather than that one): it stays relied on.
          this.#unmatch(this.#matching, { keepRelied: true });
          this.#results.push({
            kind: "refused",
            refusal: {
              kind: "fill_or_kill",
              filled: subtract(op.shares, remaining),
              shares: op.shares,
            },
          });
        } else {
          this.#settle(this.#matching);
        }
        this.#matching = undefined;
      }
      if (this.#next >= this.#input.ops.length || this.#rowsSwept > this.#rowsMax) {
        break;
      }
      const op = this.#input.ops[this.#next++]!;
      assert(this.#books.has(op.sym), `book ${op.sym} of an operation was not read`);
      if (op.kind === "cancel") {
        this.#results.push(this.#cancel(op));
      } else {
        this.#start(op);
      }
    }
    this.#decision = this.#decided();
    return this.#decision;
  }

  /** The working side of its book that an order fills against. */
  #sideMet(op: BatchOrder): WorkingSide<NewOrderRecord> {
    return this.#books.get(op.sym)![otherSide(op.side)];
  }

  #changeOf(id: bigint, open: Decimal): StoredOrderChange {
    let change = this.#storedChanges.get(id);
    if (change === undefined) {
      change = { open, canceled: ZERO };
      this.#storedChanges.set(id, change);
    }
    return change;
  }

  #sharesOf(sym: string): Map<string, Decimal> {
    let map = this.#shares.get(sym);
    if (map === undefined) {
      map = new Map();
      this.#shares.set(sym, map);
    }
    return map;
  }

  #cancel(op: BatchCancel): OpResult {
    const target = this.#input.cancelTargets.get(op.orderId);
    if (target === undefined || target.accountId !== op.accountId || target.sym !== op.sym) {
      return { kind: "refused", refusal: { kind: "unknown_order" } };
    }
    const entry = this.#namedEntries.get(target.id);
    const open = entry?.open ?? this.#storedChanges.get(target.id)?.open ?? target.open;
    if (!isPositive(open)) {
      return { kind: "refused", refusal: { kind: "nothing_open" } };
    }
    if (entry !== undefined) {
      // Dead from now on: the side skips it.
      entry.open = ZERO;
    }
    const change = this.#changeOf(target.id, open);
    change.open = ZERO;
    change.canceled = open;
    if (target.side === "buy") {
      credit(this.#cash, op.accountId, multiply(open, target.limit));
    } else {
      credit(this.#sharesOf(op.sym), op.accountId, open);
    }
    return {
      kind: "canceled",
      orderId: target.id,
      shares: open,
      executionsBefore: this.#executions.length,
    };
  }

  /**
   * Answers a repeated reference; else checks funds or shares: an accepted order starts
   * matching, a refused one is answered.
   */
  #start(op: BatchOrder): void {
    if (op.ref !== undefined) {
      const owner = this.#refs.get(refKey(op.accountId, op.ref));
      if (owner !== undefined) {
        this.#results.push(
          sameOrder(owner, op) ? { kind: "repeat", order: owner.order } : {
            kind: "refused",
            refusal: { kind: "ref_mismatch", ref: op.ref, orderId: owner.order },
          },
        );
        return;
      }
    }
    const book = this.#books.get(op.sym)!;
    if (!book.stored.exists) {
      this.#results.push({ kind: "refused", refusal: { kind: "unknown_symbol", sym: op.sym } });
      return;
    }
    const needed = reservation(op);
    let relied: string | undefined;
    if (op.side === "buy") {
      const read = this.#input.balances.get(op.accountId);
      assert(read !== undefined, `balance of buyer ${op.accountId} was not read`);
      if (!this.#reliedBalances.has(op.accountId)) {
        relied = op.accountId;
        this.#reliedBalances.set(op.accountId, read);
      }
      const balance = add(read, this.#cash.get(op.accountId) ?? ZERO);
      if (compare(needed, balance) > 0) {
        this.#results.push({
          kind: "refused",
          refusal: { kind: "insufficient_funds", needed, balance },
        });
        return;
      }
    } else {
      const position = add(
        book.stored.positions.get(op.accountId) ?? ZERO,
        this.#shares.get(op.sym)?.get(op.accountId) ?? ZERO,
      );
      if (compare(needed, position) > 0) {
        this.#results.push({
          kind: "refused",
          refusal: { kind: "insufficient_shares", sym: op.sym, needed, position },
        });
        return;
      }
    }
    const other = this.#sideMet(op);
    this.#matching = {
      op,
      fills: [],
      remaining: op.shares,
      mark: other.mark(),
      undo: [],
      selfCanceled: [],
      stopped: false,
      relied,
    };
  }

  /**
   * Matches on against the rows known so far, filling as it goes; answers `need_page` if the
   * order has shares left and unread rows could still cross.
   */
  #match(matching: Matching): NeedPage | "over_bound" | undefined {
    const { op } = matching;
    const other = this.#sideMet(op);
    const matched = matchOrder(
      op.side,
      op.limit,
      matching.remaining,
      other.known(),
      op.stp === undefined ? undefined : { accountId: op.accountId, mode: op.stp },
    );
    for (const fill of matched.fills) {
      const entry = fill.resting as Entry<NewOrderRecord>;
      matching.undo.push({
        entry,
        open: entry.open,
        change: entry.record === undefined ? this.#storedChanges.get(entry.id)?.open ?? null : null,
      });
      entry.open = subtract(entry.open, fill.shares);
      assert(compare(entry.open, ZERO) >= 0, `order ${entry.id} filled beyond its open amount`);
      if (entry.record !== undefined) {
        entry.record.open = entry.open;
      } else {
        this.#changeOf(entry.id, entry.open).open = entry.open;
      }
      matching.fills.push(fill);
    }
    for (const resting of matched.selfCanceled) {
      // Dead from now on, so that a match resumed after a page passes it over; its cancellation
      // is written when the order settles (and undone with the order if it is killed).
      const entry = resting as Entry<NewOrderRecord>;
      matching.selfCanceled.push({ entry, open: entry.open });
      entry.open = ZERO;
    }
    matching.stopped = matched.stopped;
    matching.remaining = matched.remaining;
    const rows = matching.fills.length + matching.selfCanceled.length;
    if (this.#results.length > 0 && this.#rowsSwept + rows > this.#rowsMax) {
      return "over_bound";
    }
    // Shares left means the known rows ran out or the next one does not cross; in the second
    // case no unread row crosses either (each is behind the last row read, so no better).
    if (
      !matching.stopped && isPositive(matching.remaining) &&
      other.unreadMayCross(op.side, op.limit)
    ) {
      return { kind: "need_page", sym: op.sym, side: other.side };
    }
    return undefined;
  }

  /**
   * Undoes an order's fills and self-trade cancels so far, latest first: the side is as it was
   * before the order. `keepRelied`: the balance it read still counts as relied on.
   */
  #unmatch(matching: Matching, options: { keepRelied: boolean } = { keepRelied: false }): void {
    for (const { entry, open } of matching.selfCanceled) {
      entry.open = open;
    }
    for (const { entry, open, change } of matching.undo.reverse()) {
      entry.open = open;
      if (entry.record !== undefined) {
        entry.record.open = open;
      } else if (change === null) {
        this.#storedChanges.delete(entry.id);
      } else {
        this.#storedChanges.get(entry.id)!.open = change;
      }
    }
    const { op } = matching;
    this.#sideMet(op).rewind(matching.mark);
    if (matching.relied !== undefined && !options.keepRelied) {
      this.#reliedBalances.delete(matching.relied);
    }
  }

  /**
   * The order's match is complete: its cash, shares and executions, and the resting orders of
   * its own account it canceled; it rests what is left, unless its rest is canceled at once (IOC,
   * FOK, stopped by `cancel-newest`).
   */
  #settle(matching: Matching): void {
    const { op, fills } = matching;
    const ordinal = this.#newOrders.length;
    const id = NEW_ORDER_BASE + BigInt(ordinal);
    const cancelRest = op.tif === "IOC" || op.tif === "FOK" || matching.stopped;
    const settlement = settle(
      { id, accountId: op.accountId, side: op.side, shares: op.shares, limit: op.limit },
      fills,
      cancelRest,
    );
    for (const { entry, open } of matching.selfCanceled) {
      this.#cancelResting(op.sym, otherSide(op.side), entry, open);
    }
    const executionsFrom = this.#executions.length;
    for (const [account, delta] of settlement.cash) {
      credit(this.#cash, account, delta);
    }
    for (const [account, delta] of settlement.shares) {
      credit(this.#sharesOf(op.sym), account, delta);
    }
    for (const execution of settlement.executions) {
      this.#executions.push({
        buyRef: execution.buyOrderId,
        sellRef: execution.sellOrderId,
        shares: execution.shares,
        price: execution.price,
      });
    }
    this.#rowsSwept += fills.length + matching.selfCanceled.length;
    const record: NewOrderRecord = {
      sym: op.sym,
      accountId: op.accountId,
      side: op.side,
      shares: op.shares,
      limit: op.limit,
      open: settlement.incomingOpen,
      canceled: settlement.incomingCanceled,
      tif: op.tif ?? "GTC",
      stp: op.stp ?? "none",
      ref: op.ref,
    };
    this.#newOrders.push(record);
    if (op.ref !== undefined) {
      this.#refs.set(refKey(op.accountId, op.ref), {
        order: id,
        sym: op.sym,
        side: op.side,
        shares: op.shares,
        limit: op.limit,
        tif: record.tif,
        stp: record.stp,
      });
    }
    if (isPositive(record.open)) {
      this.#books.get(op.sym)![op.side].insert({
        id,
        accountId: op.accountId,
        limit: op.limit,
        open: record.open,
        record,
      });
    }
    if (isDetailedOrder(op)) {
      this.#results.push({
        kind: "opened",
        ordinal,
        detail: {
          open: settlement.incomingOpen,
          canceled: settlement.incomingCanceled,
          executionsFrom,
          executionsTo: this.#executions.length,
        },
      });
    } else {
      this.#results.push({ kind: "opened", ordinal });
    }
  }

  /**
   * Cancels what a resting order of `side` had open (self-trade prevention), as a `<cancel>`
   * would: its reservation goes back to its account. The entry is dead already.
   */
  #cancelResting(sym: string, side: Side, entry: Entry<NewOrderRecord>, open: Decimal): void {
    if (entry.record !== undefined) {
      entry.record.open = ZERO;
      entry.record.canceled = add(entry.record.canceled, open);
    } else {
      const change = this.#changeOf(entry.id, open);
      change.open = ZERO;
      change.canceled = add(change.canceled, open);
    }
    if (side === "buy") {
      credit(this.#cash, entry.accountId, multiply(open, entry.limit));
    } else {
      credit(this.#sharesOf(sym), entry.accountId, open);
    }
  }

  #decided(): BatchDecision {
    for (const [sym, map] of this.#shares) {
      if (map.size === 0) {
        this.#shares.delete(sym);
      }
    }
    return {
      kind: "decided",
      results: this.#results,
      rowsSwept: this.#rowsSwept,
      newOrders: this.#newOrders,
      storedChanges: this.#storedChanges,
      executions: this.#executions,
      cash: this.#cash,
      shares: this.#shares,
      reliedBalances: this.#reliedBalances,
    };
  }
}

/** True if `op` places the same order as the one that holds its reference. */
function sameOrder(owner: RefOwner, op: BatchOrder): boolean {
  return owner.sym === op.sym && owner.side === op.side && compare(owner.shares, op.shares) === 0 &&
    compare(owner.limit, op.limit) === 0 && owner.tif === (op.tif ?? "GTC") &&
    owner.stp === (op.stp ?? "none");
}
