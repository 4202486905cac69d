/**
 * scripts/coverage_report.ts end to end, on coverage profiles made here by a one-line test run:
 * profiles of modules outside src/ (the include pattern matches none of them) make it fail with
 * a clear message instead of a 100% total; a profile of one module of src/ gives a totals line.
 */
import { ok, strictEqual } from "node:assert/strict";
import { runDeno } from "../support/deno_process.ts";

const REPORT = new URL("../../scripts/coverage_report.ts", import.meta.url).pathname;
const DECIMAL = new URL("../../src/exchange/decimal.ts", import.meta.url).href;

function deno(args: string[], cwd: string) {
  return runDeno(args, { cwd });
}

/** Profiles of one test run of `test` (a test module's source) in a temporary directory. */
async function profilesOf(dir: string, test: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/one_test.ts`, test);
  const run = await deno(
    ["test", "--no-config", "--coverage=profiles", "--coverage-raw-data-only", "one_test.ts"],
    dir,
  );
  strictEqual(run.code, 0, run.stdout + run.stderr);
  return `${dir}/profiles`;
}

Deno.test("coverage report fails when its include pattern matches no profiled module", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coverage-report-test-" });
  try {
    await Deno.writeTextFile(`${dir}/outside.ts`, "export const two = (a: number) => a * 2;\n");
    const profiles = await profilesOf(
      dir,
      'import { two } from "./outside.ts";\nDeno.test("two", () => { two(1); });\n',
    );
    const report = await deno(["run", "--allow-all", REPORT, profiles], dir);
    strictEqual(report.code, 1, report.stdout + report.stderr);
    ok(
      /Cannot report coverage: none of the 2 modules profiled in .* matches the include pattern/
        .test(report.stderr),
      report.stderr,
    );
    ok(!report.stdout.includes("coverage (src/ + main.ts)"), report.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("coverage report totals a profile of a module under src/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coverage-report-test-" });
  try {
    const profiles = await profilesOf(
      dir,
      `import { parseDecimal } from "${DECIMAL}";\nDeno.test("one", () => { parseDecimal("1"); });\n`,
    );
    const report = await deno(["run", "--allow-all", REPORT, profiles], dir);
    // One test of one file stays under the floor (exit 1), but it is judged: a totals line.
    ok(/coverage \(src\/ \+ main\.ts\): lines [0-9.]+% \([1-9]/.test(report.stdout), report.stdout);
    ok(!report.stderr.includes("Cannot report coverage"), report.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
