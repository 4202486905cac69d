/**
 * What one simulated account owns, kept exactly (decimals, never floats) from the fills its
 * orders report. Once all of an account's orders are closed (filled or canceled) the server's
 * balance and position equal the ledger's, because reservations and refunds cancel out: that
 * is when the simulator sizes new orders, so that it never asks for more than the account has.
 */
import {
  add,
  type Decimal,
  isPositive,
  multiply,
  parseDecimal,
  subtract,
  ZERO,
} from "../../src/exchange/decimal.ts";

/** An order's direction. */
export type Side = "buy" | "sell";

/** Exact decimal of text the simulator wrote itself or read from an answer; throws if not one. */
export function decimal(text: string): Decimal {
  const value = parseDecimal(text);
  if (typeof value === "string") {
    throw new TypeError(`Not a decimal number: ${JSON.stringify(text)}`);
  }
  return value;
}

/** A price in whole cents as an exact decimal (12345 is 123.45). */
export function centsDecimal(cents: number): Decimal {
  const whole = Math.floor(cents / 100);
  return decimal(`${whole}.${String(cents - whole * 100).padStart(2, "0")}`);
}

/** A whole number of shares as an exact decimal. */
export function wholeSharesDecimal(shares: number): Decimal {
  return { units: BigInt(shares), scale: 0 };
}

/** Cash and positions of one account. */
export class Ledger {
  #cash: Decimal;
  readonly #shares = new Map<string, Decimal>();

  constructor(cash: Decimal, shares: ReadonlyMap<string, Decimal>) {
    this.#cash = cash;
    for (const [sym, amount] of shares) {
      this.#shares.set(sym, amount);
    }
  }

  get cash(): Decimal {
    return this.#cash;
  }

  shares(sym: string): Decimal {
    return this.#shares.get(sym) ?? ZERO;
  }

  /** One execution of one of the account's orders: the buyer pays the price, the seller gets it. */
  applyFill(sym: string, side: Side, shares: Decimal, price: Decimal): void {
    const value = multiply(shares, price);
    if (side === "buy") {
      this.#cash = subtract(this.#cash, value);
      this.#shares.set(sym, add(this.shares(sym), shares));
    } else {
      this.#cash = add(this.#cash, value);
      this.#shares.set(sym, subtract(this.shares(sym), shares));
    }
  }
}

/** Whole shares that `cash` pays for at `priceCents` (floor of the exact quotient). */
export function wholeSharesFor(cash: Decimal, priceCents: number): number {
  if (!isPositive(cash) || priceCents <= 0) {
    return 0;
  }
  // cash / (cents / 100) = cash.units * 100 / (cents * 10^scale), in BigInt: exact, floored.
  const shares = (cash.units * 100n) / (BigInt(priceCents) * 10n ** BigInt(cash.scale));
  return Number(shares);
}

/** Whole shares within `shares` (a position may hold fractions if someone else traded them). */
export function wholeShares(shares: Decimal): number {
  if (!isPositive(shares)) {
    return 0;
  }
  return Number(shares.units / 10n ** BigInt(shares.scale));
}
