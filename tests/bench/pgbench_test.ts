import { deepStrictEqual } from "node:assert/strict";
import { parseProgress } from "../../scripts/bench/pgbench.ts";

Deno.test("parseProgress reads the tps of each -P line of pgbench 15's output", () => {
  const out = [
    "pgbench (15.18 (Debian 15.18-0+deb12u1))",
    "progress: 10.0 s, 3964.9 tps, lat 4.033 ms stddev 2.166, 0 failed",
    "progress: 20.0 s, 3120.0 tps, lat 5.100 ms stddev 2.900, 0 failed",
    "transaction type: <builtin: TPC-B (sort of)>",
    "tps = 3541.123456 (without initial connection time)",
  ].join("\n");
  deepStrictEqual(parseProgress(out), [3964.9, 3120]);
  deepStrictEqual(parseProgress("tps = 1.0"), []);
});
