/**
 * The matching rule, and nothing else: which resting orders an incoming order fills, how many
 * shares each, at what price. Pure: the caller reads the book and applies the result.
 *
 * Price-time priority: best price first (lowest sell for a buy, highest buy for a sell), then
 * the oldest order (lowest transaction id). A buy and a sell cross when sell limit <= buy
 * limit, and trade at the limit of the order that was already resting.
 */
import { assert } from "./assert.ts";
import { compare, type Decimal, isPositive, isZero, min, subtract, ZERO } from "./decimal.ts";
import type { SelfTradeMode } from "./order_options.ts";

export type Side = "buy" | "sell";

/** An open order on the other side of the book. */
export interface RestingOrder {
  readonly id: bigint;
  readonly accountId: string;
  readonly open: Decimal;
  readonly limit: Decimal;
}

/** One trade between the incoming order and one resting order. */
export interface Fill {
  readonly resting: RestingOrder;
  readonly shares: Decimal;
  /** The resting order's limit. */
  readonly price: Decimal;
}

/** The side of the book that an incoming `side` order meets. */
export function otherSide(side: Side): Side {
  return side === "buy" ? "sell" : "buy";
}

/** True if a resting order at `restingLimit` may trade with an incoming `side` order at `limit`. */
export function crosses(side: Side, limit: Decimal, restingLimit: Decimal): boolean {
  const order = compare(restingLimit, limit);
  return side === "buy" ? order <= 0 : order >= 0;
}

/**
 * True if `a` has priority over `b` among resting orders of `side`: the better limit first
 * (highest buy, lowest sell), then the older order (lower id).
 */
export function precedes(side: Side, a: RestingOrder, b: RestingOrder): boolean {
  const byPrice = compare(a.limit, b.limit);
  if (byPrice !== 0) {
    return side === "buy" ? byPrice > 0 : byPrice < 0;
  }
  return a.id < b.id;
}

/**
 * Fills `remaining` shares of an incoming `side` order at `limit` against `book`, which must
 * be resting orders of the other side in priority order. Returns the fills and what is left.
 * `book` may be lazy: it is read only as far as the match goes (one row past the last fill).
 *
 * `selfTrade`: the incoming order's account and its self-trade prevention. A resting order of
 * that account that would trade is, with `cancel-oldest`, listed in `selfCanceled` and passed
 * over (the caller cancels it); with `cancel-newest` the match stops there (`stopped`: the
 * caller cancels what is left of the incoming order). Only orders that would trade are
 * concerned: the match never reaches one it would not.
 */
export function matchOrder(
  side: Side,
  limit: Decimal,
  remaining: Decimal,
  book: Iterable<RestingOrder>,
  selfTrade?: { readonly accountId: string; readonly mode: SelfTradeMode },
): { fills: Fill[]; remaining: Decimal; selfCanceled: RestingOrder[]; stopped: boolean } {
  assert(isPositive(remaining), "an incoming order must have shares left to match");
  const restingSide = otherSide(side);
  const fills: Fill[] = [];
  const selfCanceled: RestingOrder[] = [];
  let stopped = false;
  const mode = selfTrade?.mode ?? "none";
  const self = selfTrade?.accountId;
  let left = remaining;
  let previous: RestingOrder | undefined;
  for (const resting of book) {
    assert(isPositive(resting.open), `resting order ${resting.id} has nothing open`);
    assert(
      previous === undefined || precedes(restingSide, previous, resting),
      `book out of priority order at order ${resting.id}`,
    );
    previous = resting;
    if (isZero(left) || !crosses(side, limit, resting.limit)) {
      break;
    }
    if (mode !== "none" && resting.accountId === self) {
      if (mode === "cancel-newest") {
        stopped = true;
        break;
      }
      selfCanceled.push(resting);
      continue;
    }
    const shares = min(left, resting.open);
    fills.push({ resting, shares, price: resting.limit });
    left = subtract(left, shares);
  }
  assert(compare(left, ZERO) >= 0, "matched more shares than the order holds");
  return { fills, remaining: left, selfCanceled, stopped };
}
