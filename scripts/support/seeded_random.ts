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
