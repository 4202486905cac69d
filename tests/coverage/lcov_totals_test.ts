import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  belowFloor,
  emptyCoverageProblem,
  formatTotals,
  lcovFiles,
  lcovTotals,
  percent,
} from "../../scripts/coverage/lcov_totals.ts";

/** Two records in the shape `deno coverage --lcov` writes (abridged to the summary fields). */
const LCOV = `SF:/repo/src/a.ts
FN:1,f
FNDA:3,f
FNF:1
FNH:1
BRDA:3,0,0,4
BRDA:3,0,1,0
BRF:2
BRH:1
DA:1,5
DA:2,0
LH:1
LF:2
end_of_record
SF:/repo/main.ts
FNF:3
FNH:2
BRF:8
BRH:8
LH:90
LF:98
end_of_record
`;

Deno.test("lcovTotals sums the summary fields of every record", () => {
  deepStrictEqual(lcovTotals(LCOV), {
    lines: { hit: 91, found: 100 },
    branches: { hit: 9, found: 10 },
    functions: { hit: 3, found: 4 },
  });
});

Deno.test("lcovTotals refuses a summary field that is not a count", () => {
  throws(() => lcovTotals("SF:/a.ts\nLH:x\nend_of_record\n"), SyntaxError);
});

Deno.test("percent counts nothing to cover as fully covered", () => {
  strictEqual(percent({ hit: 0, found: 0 }), 100);
  strictEqual(percent({ hit: 1, found: 4 }), 25);
});

Deno.test("belowFloor names each measure under its floor, and an exact hit passes", () => {
  const totals = lcovTotals(LCOV);
  deepStrictEqual(belowFloor(totals, { lines: 91, branches: 90, functions: 75 }), []);
  deepStrictEqual(belowFloor(totals, { lines: 92, branches: 90, functions: 76 }), [
    "lines",
    "functions",
  ]);
});

Deno.test("formatTotals truncates, so a total just under a floor never prints as the floor", () => {
  const line = formatTotals({
    lines: { hit: 8999, found: 10000 },
    branches: { hit: 1, found: 3 },
    functions: { hit: 0, found: 0 },
  });
  strictEqual(line, "lines 89.9% (8999/10000), branches 33.3% (1/3), functions 100.0% (0/0)");
});

Deno.test("lcovFiles lists the file of every record", () => {
  deepStrictEqual(lcovFiles(LCOV), ["/repo/src/a.ts", "/repo/main.ts"]);
  deepStrictEqual(lcovFiles(""), []);
});

Deno.test("emptyCoverageProblem refuses a report of no file, which would read 100% and pass", () => {
  // Without the check, nothing covered passes every floor.
  deepStrictEqual(belowFloor(lcovTotals(""), { lines: 95, branches: 93, functions: 98 }), []);
  strictEqual(emptyCoverageProblem(""), "the lcov report has no file");
  strictEqual(
    emptyCoverageProblem("SF:/repo/src/types.ts\nLF:0\nLH:0\nend_of_record\n"),
    "the lcov report's files have no line to cover",
  );
  strictEqual(emptyCoverageProblem(LCOV), undefined);
});
