/**
 * What a new order and its fills do to balances, positions and orders. Pure: turns the
 * matching result into net changes per account, which the database layer applies in a few
 * set-based statements.
 *
 * - A buy reserves amount x limit from the buyer's balance when it opens; each fill pays the
 *   seller price x shares and refunds the buyer (limit - price) x shares.
 * - A sell reserves its shares from the seller's position when it opens; each fill credits the
 *   buyer with the shares. A resting buy always trades at its own limit, so it gets no refund.
 * - An order whose rest is canceled at once (IOC, FOK, self-trade prevention) is settled as a
 *   limit order placed and then canceled: the rest's reservation comes back, exactly as a
 *   `<cancel>` would give it back.
 */
import { add, type Decimal, isZero, multiply, negate, subtract, ZERO } from "./decimal.ts";
import type { Fill, Side } from "./matching.ts";

/** The incoming order, already validated. */
export interface NewOrder {
  readonly id: bigint;
  readonly accountId: string;
  readonly side: Side;
  /** Shares, always positive. */
  readonly shares: Decimal;
  readonly limit: Decimal;
}

export interface ExecutionRecord {
  readonly buyOrderId: bigint;
  readonly sellOrderId: bigint;
  readonly shares: Decimal;
  readonly price: Decimal;
}

/** Net changes of one order placement. */
export interface Settlement {
  /** Cash added to (or, if negative, taken from) each account's balance. */
  readonly cash: Map<string, Decimal>;
  /** Shares of the order's symbol added to (or taken from) each account's position. */
  readonly shares: Map<string, Decimal>;
  /** The incoming order's open amount after matching (zero if its rest was canceled). */
  readonly incomingOpen: Decimal;
  /** The incoming order's rest, canceled at once (zero unless `cancelRest`). */
  readonly incomingCanceled: Decimal;
  readonly executions: readonly ExecutionRecord[];
}

/**
 * Adds `amount` (negative: takes it) to an account's net change in `map`; a change that nets to
 * zero is dropped, so that the map holds only what must be written.
 */
export function credit(map: Map<string, Decimal>, accountId: string, amount: Decimal): void {
  const total = add(map.get(accountId) ?? ZERO, amount);
  if (isZero(total)) {
    map.delete(accountId);
  } else {
    map.set(accountId, total);
  }
}

/** The reservation an order takes when it opens: cash for a buy, shares for a sell. */
export function reservation(order: Pick<NewOrder, "side" | "shares" | "limit">): Decimal {
  return order.side === "buy" ? multiply(order.shares, order.limit) : order.shares;
}

/**
 * Computes the net effect of opening `order` and executing `fills`; `cancelRest`: what does not
 * fill is canceled at once instead of resting.
 */
export function settle(order: NewOrder, fills: readonly Fill[], cancelRest = false): Settlement {
  const cash = new Map<string, Decimal>();
  const shares = new Map<string, Decimal>();
  const executions: ExecutionRecord[] = [];
  let open = order.shares;

  if (order.side === "buy") {
    credit(cash, order.accountId, negate(reservation(order)));
  } else {
    credit(shares, order.accountId, negate(order.shares));
  }
  // What the incoming order's own account gets from its fills is summed and credited once, after
  // the loop: the sums are exact, so the totals are the same as crediting fill by fill, and a
  // sweep of 60,000 fills spent a third of its settlement on those per-fill credits (issue 19).
  let filled = ZERO;
  let value = ZERO;
  for (const fill of fills) {
    const fillValue = multiply(fill.price, fill.shares);
    filled = add(filled, fill.shares);
    value = add(value, fillValue);
    if (order.side === "buy") {
      credit(cash, fill.resting.accountId, fillValue);
      executions.push({
        buyOrderId: order.id,
        sellOrderId: fill.resting.id,
        shares: fill.shares,
        price: fill.price,
      });
    } else {
      credit(shares, fill.resting.accountId, fill.shares);
      executions.push({
        buyOrderId: fill.resting.id,
        sellOrderId: order.id,
        shares: fill.shares,
        price: fill.price,
      });
    }
  }
  open = subtract(open, filled);
  if (order.side === "buy") {
    // The reservation was taken at the limit; each fill paid its own price: the rest comes back.
    credit(cash, order.accountId, subtract(multiply(order.limit, filled), value));
    credit(shares, order.accountId, filled);
  } else {
    credit(cash, order.accountId, value);
  }
  if (!cancelRest || isZero(open)) {
    return { cash, shares, incomingOpen: open, incomingCanceled: ZERO, executions };
  }
  // The rest's reservation comes back, as a cancel of a resting order gives it back.
  if (order.side === "buy") {
    credit(cash, order.accountId, multiply(open, order.limit));
  } else {
    credit(shares, order.accountId, open);
  }
  return { cash, shares, incomingOpen: ZERO, incomingCanceled: open, executions };
}
