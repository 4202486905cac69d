/** Percentiles of latency samples: the one definition for the stress run, its test and the bench. */

/**
 * The nearest-rank p-th percentile (0..100) of samples sorted ascending: the smallest sample with
 * at least p% of the samples at or below it; 0 for no samples.
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) {
    return 0;
  }
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
}

/** The nearest-rank p-th percentile (0..100) of `values` in any order; 0 for no values. */
export function percentile(values: readonly number[], p: number): number {
  return nearestRank([...values].sort((a, b) => a - b), p);
}
