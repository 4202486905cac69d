/**
 * The coverage report of `src/` and `main.ts` from the profiles of a test run.
 *
 *   deno task coverage                   # runs every test with coverage, then this report
 *   deno task coverage:report DIR        # report on profiles already in DIR
 *
 * Prints `deno coverage`'s per-file table, writes `DIR/lcov.info` and `DIR/html/`, then one
 * totals line, and exits 1 when a total is below {@link COVERAGE_FLOOR}, or when no profiled
 * module matches the include pattern (nothing to judge). The profiles include
 * the server processes that tests start: Deno passes DENO_COVERAGE_DIR on to its children.
 */
import { fileURLToPath } from "node:url";
import {
  belowFloor,
  type CoverageFloor,
  emptyCoverageProblem,
  formatTotals,
  lcovTotals,
} from "./coverage/lcov_totals.ts";
import { profiledModules } from "./coverage/profiled_modules.ts";

/**
 * The floor under the totals of `src/` and `main.ts`, in percent, so that coverage cannot
 * silently fall back. Set by issue 14 a little under what it reached (lines 95.9, branches 94.5,
 * functions 100): a few branches depend on timing (a retried deadlock, a client closing first).
 * Raise it with the coverage; lower it only with a reason in the README's test section.
 */
// Lines 94 (was 95) since issue 18: the fault paths (probe, in-doubt resolution) are covered by the
// fault suite in a server subprocess, whose share is counted only in part; to be raised again.
export const COVERAGE_FLOOR: CoverageFloor = { lines: 94, branches: 92, functions: 98 };

const ROOT_URL = new URL("../", import.meta.url).href;
/** Which modules the report counts: everything under src/, and main.ts. */
const INCLUDE = `^${RegExp.escape(ROOT_URL)}(src/|main\\.ts$)`;

async function denoCoverage(args: string[]): Promise<void> {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["coverage", `--include=${INCLUDE}`, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    throw new Error(`deno coverage ${args.join(" ")} failed (exit ${status.code})`);
  }
}

async function main(): Promise<number> {
  const dir = Deno.args[0];
  if (dir === undefined || Deno.args.length > 1) {
    console.error("Usage: deno task coverage:report DIR  (DIR holds the coverage profiles)");
    return 2;
  }
  // A pattern that matches nothing must fail loudly: summed over no file, every total would
  // read 100% and pass any floor.
  const profiled = await profiledModules(dir);
  const included = profiled.filter((url) => new RegExp(INCLUDE).test(url));
  if (included.length === 0) {
    console.error(
      `Cannot report coverage: none of the ${profiled.length} modules profiled in ${dir} ` +
        `matches the include pattern ${INCLUDE}`,
    );
    return 1;
  }
  const lcov = `${dir}/lcov.info`;
  await denoCoverage([dir]);
  await denoCoverage(["--lcov", `--output=${lcov}`, dir]);
  await denoCoverage(["--html", dir]);
  const lcovText = await Deno.readTextFile(lcov);
  const empty = emptyCoverageProblem(lcovText);
  if (empty !== undefined) {
    console.error(`Cannot report coverage: ${empty} (${lcov}, include pattern ${INCLUDE})`);
    return 1;
  }
  const totals = lcovTotals(lcovText);
  const low = belowFloor(totals, COVERAGE_FLOOR);
  const floor = `lines ${COVERAGE_FLOOR.lines}%, branches ${COVERAGE_FLOOR.branches}%, ` +
    `functions ${COVERAGE_FLOOR.functions}%`;
  console.log(`coverage (src/ + main.ts): ${formatTotals(totals)}; floor ${floor}`);
  if (low.length > 0) {
    console.log(`coverage below the floor: ${low.join(", ")} (${fileURLToPath(import.meta.url)})`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
