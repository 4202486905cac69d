/**
 * The optional instructions an order may carry beyond the specification's limit order (issue
 * 20): time in force, self-trade prevention and a client reference for safe retries. An order
 * that carries none of them is exactly the specification's order: GTC, self-trades settle, no
 * reference.
 */

/**
 * Time in force. `GTC`: whatever does not fill rests until it fills or is canceled (the
 * specification's order). `IOC`: fills what it can at once, the rest is canceled. `FOK`: fills
 * completely at once, or nothing happens at all (refused, no id drawn).
 */
export type TimeInForce = "GTC" | "IOC" | "FOK";
export const TIMES_IN_FORCE: readonly TimeInForce[] = ["GTC", "IOC", "FOK"];

/**
 * Self-trade prevention, decided by the incoming order when it would trade with a resting order
 * of its own account. `none`: the trade settles (the specification's rule). `cancel-newest`: the
 * incoming order's remaining part is canceled there and it stops matching. `cancel-oldest`: that
 * resting order's open part is canceled, and matching goes on.
 */
export type SelfTradeMode = "none" | "cancel-newest" | "cancel-oldest";
export const SELF_TRADE_MODES: readonly SelfTradeMode[] = [
  "none",
  "cancel-newest",
  "cancel-oldest",
];

/** Longest client reference accepted, in characters. */
export const ORDER_REF_LENGTH_MAX = 64;
