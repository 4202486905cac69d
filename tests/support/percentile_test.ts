import { strictEqual } from "node:assert/strict";
import { nearestRank, percentile } from "./percentile.ts";

Deno.test("percentile takes the nearest rank: the smallest sample with p% at or below it", () => {
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  strictEqual(percentile(values, 50), 5);
  strictEqual(percentile(values, 90), 9);
  strictEqual(percentile(values, 99), 10);
  strictEqual(percentile(values, 100), 10);
  strictEqual(percentile(values, 0), 1);
  strictEqual(percentile([], 50), 0);
  strictEqual(nearestRank(new Float64Array([1, 2, 3, 4]), 75), 3);
});
