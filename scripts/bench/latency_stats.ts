/** Latency samples and summary statistics (percentiles, spread across repetitions). */
import { nearestRank } from "../../tests/support/percentile.ts";

/** A growable, bounded buffer of latency samples in milliseconds. */
export class LatencyRecorder {
  #samples = new Float64Array(1024);
  #count = 0;
  /** Samples beyond this are dropped (bounds memory on very long runs). */
  static readonly CAPACITY_MAX = 8_000_000;

  /** Records one latency. */
  add(ms: number): void {
    if (this.#count === this.#samples.length) {
      if (this.#count >= LatencyRecorder.CAPACITY_MAX) {
        return;
      }
      const bigger = new Float64Array(Math.min(LatencyRecorder.CAPACITY_MAX, this.#count * 2));
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#count++] = ms;
  }

  /** p50/p90/p99/max/mean of what was recorded (zeros when empty). */
  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#count).sort();
    const n = sorted.length;
    if (n === 0) {
      return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    }
    const rank = (p: number) => nearestRank(sorted, p);
    let sum = 0;
    for (const x of sorted) {
      sum += x;
    }
    return { p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[n - 1] ?? 0, mean: sum / n };
  }
}

/** Latency percentiles of one measured point, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Mean and range of one metric over the repetitions of a point. */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  stddev: number;
  n: number;
}

/** Mean, min, max and sample standard deviation of `values`. */
export function spread(values: number[]): Spread {
  const n = values.length;
  if (n === 0) {
    return { mean: 0, min: 0, max: 0, stddev: 0, n: 0 };
  }
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return {
    mean,
    min: Math.min(...values),
    max: Math.max(...values),
    stddev: Math.sqrt(variance),
    n,
  };
}
