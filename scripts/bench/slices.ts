/**
 * A long point's rate slice by slice (orders/s in each 10 s of a minute, say): a server that
 * slows down as dead rows pile up shows it here, where one mean over the minute hides it.
 */
import { LatencyRecorder } from "./latency_stats.ts";

/** One slice of a long point. */
export interface SliceRecord {
  /** Since the point's clock started. */
  startMs: number;
  endMs: number;
  /** Orders answered within the slice. */
  orders: number;
  ordersPerS: number;
  /** Latency of the requests answered within the slice. */
  p50Ms: number;
  p99Ms: number;
}

/** Counts answers into fixed slices of a point's time, by when each was answered. */
export class SliceCounter {
  readonly #startedAt: number;
  readonly #sliceMs: number;
  readonly #orders: number[];
  readonly #latency: LatencyRecorder[];

  /** `startedAt` is the point's clock start (performance.now()); `durationMs` its length. */
  constructor(startedAt: number, sliceMs: number, durationMs: number) {
    if (sliceMs <= 0 || durationMs <= 0) {
      throw new RangeError(`Cannot slice ${durationMs} ms into slices of ${sliceMs} ms`);
    }
    this.#startedAt = startedAt;
    this.#sliceMs = sliceMs;
    const count = Math.ceil(durationMs / sliceMs);
    this.#orders = new Array(count).fill(0);
    this.#latency = Array.from({ length: count }, () => new LatencyRecorder());
  }

  /**
   * Counts one answer. Answers after the point's end (to requests sent before it) count in the
   * last slice, which is then as long as they make it; answers before the start (warm-up) are
   * not counted.
   */
  add(answeredAt: number, latencyMs: number, orders: number): void {
    const at = answeredAt - this.#startedAt;
    if (at < 0) {
      return;
    }
    const index = Math.min(Math.floor(at / this.#sliceMs), this.#orders.length - 1);
    this.#orders[index]! += orders;
    this.#latency[index]!.add(latencyMs);
  }

  /** The slices, the last one ending at `endedAt` (when the last answer came). */
  slices(endedAt: number): SliceRecord[] {
    const elapsed = endedAt - this.#startedAt;
    return this.#orders.map((orders, i) => {
      const startMs = i * this.#sliceMs;
      const last = i === this.#orders.length - 1;
      const endMs = last ? Math.max(startMs, elapsed) : Math.min(startMs + this.#sliceMs, elapsed);
      const seconds = (endMs - startMs) / 1000;
      const latency = this.#latency[i]!.summary();
      return {
        startMs,
        endMs,
        orders,
        ordersPerS: seconds > 0 ? orders / seconds : 0,
        p50Ms: latency.p50,
        p99Ms: latency.p99,
      };
    });
  }
}

/** The last value over the first; undefined when there are fewer than two or the first is 0. */
export function lastOverFirst(values: number[]): number | undefined {
  const first = values[0];
  const last = values.at(-1);
  if (values.length < 2 || first === undefined || last === undefined || first === 0) {
    return undefined;
  }
  return last / first;
}
