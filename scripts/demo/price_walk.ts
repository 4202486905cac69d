/**
 * The drifting "fair" price of one symbol, in whole cents: a random walk with a slowly turning
 * trend, so that the page's candles show runs up and down rather than noise. It stays within a
 * factor of four of where it started (a reflecting bound), which also bounds the cash the
 * simulated accounts need.
 */

/** Standard deviation of one step, as a fraction of the price. */
const STEP_FRACTION = 0.0006;
/** How much of the trend survives a step (the rest decays toward no trend). */
const TREND_MEMORY = 0.97;
/** Standard deviation of the trend's change per step, as a fraction of the price. */
const TREND_STEP_FRACTION = 0.00008;
const BOUND_FACTOR = 4;
/** The lowest price, in cents: low enough to stay out of the way, high enough for a spread. */
const FLOOR_CENTS = 100;

/** A standard normal deviate from two uniform ones (Box-Muller). */
export function gaussian(random: () => number): number {
  const u = 1 - random(); // in (0, 1]: log(0) is not a number
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export class PriceWalk {
  readonly #low: number;
  readonly #high: number;
  #cents: number;
  /** Cents per step the price tends to move by, besides noise. */
  #trend = 0;

  constructor(startCents: number) {
    this.#cents = startCents;
    this.#low = Math.max(FLOOR_CENTS, Math.round(startCents / BOUND_FACTOR));
    this.#high = Math.round(startCents * BOUND_FACTOR);
  }

  get cents(): number {
    return this.#cents;
  }

  /** Moves the price one step. */
  step(random: () => number): void {
    this.#trend = this.#trend * TREND_MEMORY +
      gaussian(random) * this.#cents * TREND_STEP_FRACTION;
    let next = Math.round(
      this.#cents + this.#trend + gaussian(random) * this.#cents * STEP_FRACTION,
    );
    if (next < this.#low || next > this.#high) {
      // Reflect, and turn the trend around with it.
      next = next < this.#low ? 2 * this.#low - next : 2 * this.#high - next;
      this.#trend = -this.#trend;
    }
    this.#cents = Math.min(this.#high, Math.max(this.#low, next));
  }
}
