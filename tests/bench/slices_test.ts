import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { lastOverFirst, SliceCounter } from "../../scripts/bench/slices.ts";

Deno.test("SliceCounter counts orders into the slice they were answered in", () => {
  const counter = new SliceCounter(1000, 100, 300);
  counter.add(999, 5, 1); // warm-up, before the clock: not counted
  counter.add(1000, 5, 1);
  counter.add(1099, 5, 2);
  counter.add(1150, 7, 1);
  counter.add(1320, 9, 1); // answered after the end: the last slice
  const slices = counter.slices(1320);
  deepStrictEqual(slices.map((s) => s.orders), [3, 1, 1]);
  deepStrictEqual(slices.map((s) => [s.startMs, s.endMs]), [[0, 100], [100, 200], [200, 320]]);
  strictEqual(slices[0]!.ordersPerS, 30);
  strictEqual(slices[2]!.ordersPerS, 1 / 0.12);
  strictEqual(slices[1]!.p50Ms, 7);
  throws(() => new SliceCounter(0, 0, 100), RangeError);
});

Deno.test("SliceCounter reports an empty slice as zero, not as a division by zero", () => {
  const slices = new SliceCounter(0, 100, 200).slices(50);
  deepStrictEqual(slices.map((s) => s.ordersPerS), [0, 0]);
});

Deno.test("lastOverFirst needs two values and a first one above zero", () => {
  strictEqual(lastOverFirst([200, 150, 100]), 0.5);
  strictEqual(lastOverFirst([200]), undefined);
  strictEqual(lastOverFirst([0, 100]), undefined);
});
