/**
 * The types of a batch's decision (src/exchange/book_batch.ts): what the caller reads under the
 * book locks, and what the decision answers and writes (shaped for the database in
 * batch_writes.ts).
 */
import type { Decimal } from "./decimal.ts";
import type { RestingOrder, Side } from "./matching.ts";
import type { SelfTradeMode, TimeInForce } from "./order_options.ts";
import type { Refusal } from "./refusal.ts";

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

/**
 * A new order, validated: side and shares (positive) and limit; and the optional instructions of
 * src/exchange/order_options.ts (absent: GTC, self-trades settle, no reference).
 */
export interface BatchOrder {
  readonly kind: "order";
  readonly sym: string;
  readonly accountId: string;
  readonly side: Side;
  readonly shares: Decimal;
  readonly limit: Decimal;
  readonly tif?: TimeInForce;
  readonly stp?: SelfTradeMode;
  readonly ref?: string;
}

/** True if the order carries any instruction beyond the specification's (its answer says more). */
export function isDetailedOrder(op: BatchOrder): boolean {
  return op.tif !== undefined || op.stp !== undefined || op.ref !== undefined;
}

/** The key of an account's order reference, in {@link BatchInput.storedRefs}. */
export function refKey(accountId: string, ref: string): string {
  return `${accountId}/${ref}`;
}

/**
 * An accepted order that carries a reference, as stored (or as placed earlier in the batch: then
 * `order` is {@link NEW_ORDER_BASE}-based). A later order with the same account and reference is
 * a repeat of it if every value is the same, else refused.
 */
export interface RefOwner {
  readonly order: bigint;
  readonly sym: string;
  readonly side: Side;
  readonly shares: Decimal;
  readonly limit: Decimal;
  readonly tif: TimeInForce;
  readonly stp: SelfTradeMode;
}

/** A cancel of a stored order of `accountId`, on the book of `sym` (the order's symbol). */
export interface BatchCancel {
  readonly kind: "cancel";
  readonly sym: string;
  readonly accountId: string;
  readonly orderId: bigint;
}

export type BatchOp = BatchOrder | BatchCancel;

/** One side of the stored book, read in priority order, possibly only its first page. */
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

/** One book of the batch, as round trip 1 read it under its lock (further pages come later). */
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
  /**
   * The stored orders that hold the references the batch's orders carry, by {@link refKey}
   * (absent: not used yet; the whole map absent: no order of the batch carries one).
   */
  readonly storedRefs?: ReadonlyMap<string, RefOwner>;
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
  | {
    readonly kind: "opened";
    readonly ordinal: number;
    /** Set for an order with instructions beyond the specification's: its answer shows these. */
    readonly detail?: OpenedDetail;
  }
  /** An order whose reference an accepted order of the account already has, with its values. */
  | { readonly kind: "repeat"; readonly order: bigint }
  | {
    readonly kind: "canceled";
    readonly orderId: bigint;
    readonly shares: Decimal;
    /** How many of the batch's executions had happened when the cancel ran. */
    readonly executionsBefore: number;
  }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** An opened order's state right after its own decision: what it canceled at once, its fills. */
export interface OpenedDetail {
  /** What it left resting in the book, or zero. */
  readonly open: Decimal;
  /** Its rest, canceled at once (IOC, self-trade prevention), or zero. */
  readonly canceled: Decimal;
  /** Its fills are the decision's `executions[executionsFrom .. executionsTo - 1]`. */
  readonly executionsFrom: number;
  readonly executionsTo: number;
}

/** An order the batch creates, with what is open (and canceled) once the whole batch has run. */
export interface NewOrderRecord {
  readonly sym: string;
  readonly accountId: string;
  readonly side: Side;
  readonly shares: Decimal;
  readonly limit: Decimal;
  open: Decimal;
  /** Canceled by the batch (IOC, FOK's nothing, self-trade prevention), or zero. */
  canceled: Decimal;
  readonly tif: TimeInForce;
  readonly stp: SelfTradeMode;
  readonly ref: string | undefined;
}

/** A stored order's state once the whole batch has run. */
export interface StoredOrderChange {
  open: Decimal;
  /** Shares canceled by this batch (zero if not canceled). */
  canceled: Decimal;
}

/**
 * Everything the batch writes, as net changes, plus one answer per decided operation: the first
 * `results.length` operations of the batch. The others were left undecided because the batch
 * had done its share of work (`rowsMax`, see book_batch.ts); they belong to the next batch.
 */
export interface BatchDecision {
  readonly kind: "decided";
  readonly results: readonly OpResult[];
  /** Resting orders the decided orders filled (the work the apply step writes per fill). */
  readonly rowsSwept: number;
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

/** The decision needs more of a stored side: read the page after its last row and hand it over. */
export interface NeedPage {
  readonly kind: "need_page";
  readonly sym: string;
  /** The side of the book (the resting orders' side) to read further. */
  readonly side: Side;
}
