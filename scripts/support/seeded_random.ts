/**
 * A tiny deterministic pseudo-random generator (mulberry32), so that load runs, randomized
 * tests and the demo's market can be replayed from their seed. Not for anything that needs
 * unpredictability. It lives outside tests/ because tools (the bench, `deno task demo`) use it too.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from {@link seededRandom}: the number, a whole number in a range, an item, a coin. */
export class SeededDraws {
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }

  /** The next number in [0, 1). */
  next(): number {
    return this.#random();
  }

  /** A whole number in `low..high`, both included. */
  int(low: number, high: number): number {
    return low + Math.floor(this.#random() * (high - low + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#random() < p;
  }
}
