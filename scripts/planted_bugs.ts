/**
 * Proves that the tests can fail: plants each bug of `planted_bugs/` in a scratch copy of the
 * repository and runs the tests its patch names there, which must fail.
 *
 *   deno task planted                 # every planted bug, then a table; exit 1 unless all caught
 *   deno task planted --bug NAME      # one bug (repeatable)
 *   deno task planted --list          # the bugs and their catching tests, nothing run
 *
 * Per bug: `caught` (the run failed, and every test the patch expects to fail did), `MISSED`
 * (the tests passed with the bug in), `STALE` (the patch no longer applies), `BROKEN` (the run
 * failed without any test failing: a patch that does not type-check proves nothing),
 * `UNEXPECTED` (tests failed, but not every expected one) or `TIMEOUT`. Anything but `caught`
 * makes the exit status 1. The working tree is never touched: each bug gets its own copy in a
 * temporary directory, removed afterwards; logs of runs that were not caught are kept.
 */
import { parseArgs } from "node:util";
import { listPlantedPatches, type PlantedPatch } from "./planted/planted_patch.ts";
import { applyPatch, copyRepository, repositoryRoot } from "./planted/scratch_copy.ts";

/** Longest run of one bug's tests; the stress test takes about 25 s on 2 idle cores. */
const BUG_RUN_TIMEOUT_MS = 15 * 60_000;

type Outcome = "caught" | "MISSED" | "STALE" | "BROKEN" | "UNEXPECTED" | "TIMEOUT";

interface BugRun {
  readonly patch: PlantedPatch;
  readonly outcome: Outcome;
  readonly seconds: number;
  /** Names of the tests that failed. */
  readonly failed: readonly string[];
  /** Why it is not `caught`, in one line (empty when caught). */
  readonly detail: string;
  /** The output of the test run, kept when not caught. */
  readonly log: string;
}

/**
 * Names of the failed tests in `deno test` output (colors off): the lines of its FAILURES
 * section, `name => ./path:line:column`.
 */
export function failedTestNames(output: string): string[] {
  const names: string[] = [];
  let inFailures = false;
  for (const line of output.split("\n")) {
    if (line.trim() === "FAILURES") {
      inFailures = true;
      continue;
    }
    if (!inFailures) {
      continue;
    }
    const match = /^(.*) => \.?\/?\S+:\d+:\d+$/.exec(line);
    if (match !== null) {
      names.push(match[1]!);
    } else if (/^(FAILED|ok) \|/.test(line)) {
      inFailures = false;
    }
  }
  return names;
}

async function runTests(dir: string, files: readonly string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...files],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(BUG_RUN_TIMEOUT_MS),
  }).output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    signal: output.signal,
    text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

async function runBug(root: string, patch: PlantedPatch): Promise<BugRun> {
  const started = performance.now();
  const scratch = await Deno.makeTempDir({ prefix: `planted-${patch.name}-` });
  const done = (outcome: Outcome, detail: string, failed: string[] = [], log = ""): BugRun => ({
    patch,
    outcome,
    seconds: (performance.now() - started) / 1000,
    failed,
    detail,
    log,
  });
  try {
    await copyRepository(root, scratch);
    const refused = await applyPatch(scratch, patch.path, { check: false });
    if (refused !== undefined) {
      return done("STALE", refused.split("\n")[0]!, [], refused);
    }
    const run = await runTests(scratch, patch.caughtBy);
    const failed = failedTestNames(run.text);
    if (run.signal !== null) {
      return done("TIMEOUT", `killed by ${run.signal}`, failed, run.text);
    }
    if (run.success) {
      return done("MISSED", "every test passed with the bug planted", failed, run.text);
    }
    if (failed.length === 0) {
      return done("BROKEN", "the run failed but no test failed", failed, run.text);
    }
    const missing = patch.expectFailures.filter((name) => !failed.includes(name));
    if (missing.length > 0) {
      return done("UNEXPECTED", `did not fail: ${missing.join("; ")}`, failed, run.text);
    }
    return done("caught", "", failed);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

function table(runs: readonly BugRun[]): string {
  const rows = [["bug", "result", "seconds", "failed tests"]];
  for (const run of runs) {
    rows.push([
      run.patch.name,
      run.outcome,
      run.seconds.toFixed(1),
      `${run.failed.length} (${run.patch.caughtBy.join(", ")})`,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()
  ).join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      bug: { type: "string", multiple: true },
      list: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log("Usage: deno task planted [--bug NAME]... [--list]");
    return 0;
  }
  const root = await repositoryRoot(new URL(".", import.meta.url).pathname);
  const all = await listPlantedPatches(root);
  const wanted = values.bug ?? [];
  const unknown = wanted.filter((name) => !all.some((patch) => patch.name === name));
  if (unknown.length > 0) {
    console.error(
      `No planted bug named ${unknown.join(", ")}; there are: ${all.map((p) => p.name).join(", ")}`,
    );
    return 2;
  }
  const chosen = wanted.length === 0 ? all : all.filter((patch) => wanted.includes(patch.name));
  if (values.list) {
    for (const patch of chosen) {
      console.log(`${patch.name}: ${patch.bug}\n  caught by ${patch.caughtBy.join(", ")}`);
    }
    return 0;
  }
  const started = performance.now();
  const runs: BugRun[] = [];
  for (const [index, patch] of chosen.entries()) {
    console.log(`[${index + 1}/${chosen.length}] ${patch.name}: ${patch.bug}`);
    const run = await runBug(root, patch);
    runs.push(run);
    console.log(
      `  ${run.outcome} in ${run.seconds.toFixed(1)} s${run.detail && `: ${run.detail}`}`,
    );
  }
  const logDir = runs.some((run) => run.log !== "")
    ? await Deno.makeTempDir({ prefix: "planted-logs-" })
    : undefined;
  for (const run of runs) {
    if (logDir !== undefined && run.log !== "") {
      await Deno.writeTextFile(`${logDir}/${run.patch.name}.log`, run.log);
    }
  }
  console.log(`\n${table(runs)}`);
  const bad = runs.filter((run) => run.outcome !== "caught");
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (bad.length > 0) {
    console.log(
      `\n${bad.length} of ${runs.length} planted bugs not caught (${seconds} s); logs in ${logDir}`,
    );
    return 1;
  }
  console.log(`\nall ${runs.length} planted bugs caught (${seconds} s)`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
