/**
 * The planted bugs of `planted_bugs/` (run by `deno task planted`) stay usable without running
 * the slow suites: every patch still applies to the current tree (checked with
 * `git apply --check` in a scratch copy), and every test it names still exists.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { failedTestNames } from "../scripts/planted_bugs.ts";
import {
  listPlantedPatches,
  parsePlantedPatch,
  type PlantedPatch,
} from "../scripts/planted/planted_patch.ts";
import { applyPatch, copyRepository, repositoryRoot } from "../scripts/planted/scratch_copy.ts";

const ROOT = await repositoryRoot(new URL(".", import.meta.url).pathname);

/** Runs `body` with a scratch copy of the repository, removed afterwards. */
async function withCopy(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "planted-bugs-test-" });
  try {
    await copyRepository(ROOT, dir);
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every planted bug's patch applies cleanly to the current tree", async () => {
  const patches = await listPlantedPatches(ROOT);
  ok(patches.length >= 6, `only ${patches.length} planted bugs`);
  await withCopy(async (dir) => {
    const stale: string[] = [];
    for (const patch of patches) {
      const refused = await applyPatch(dir, patch.path, { check: true });
      if (refused !== undefined) {
        stale.push(`${patch.path}: ${refused}`);
      }
    }
    deepStrictEqual(stale, [], "patches that no longer apply (re-plant them on the new code)");
  });
});

Deno.test("every planted bug names test files that exist and tests that are in them", async () => {
  const problems: string[] = [];
  for (const patch of await listPlantedPatches(ROOT)) {
    const sources: string[] = [];
    for (const file of patch.caughtBy) {
      try {
        sources.push(await Deno.readTextFile(`${ROOT}/${file}`));
      } catch {
        problems.push(`${patch.name}: no test file ${file}`);
      }
    }
    for (const name of patch.expectFailures) {
      if (!sources.some((source) => source.includes(JSON.stringify(name)))) {
        problems.push(`${patch.name}: no test named ${JSON.stringify(name)}`);
      }
    }
  }
  deepStrictEqual(problems, []);
});

Deno.test("the applying check fails for a patch whose context is gone", async () => {
  // The check above must be able to fail: a patch made against code that has since changed.
  const patch: PlantedPatch = parsePlantedPatch(
    "stale",
    "stale.patch",
    [
      "Bug: a line that is not there",
      "Breaks: nothing",
      "Caught-by: tests/exchange/matching_test.ts",
      "Expect-failure: none",
      "",
      "diff --git a/src/exchange/matching.ts b/src/exchange/matching.ts",
      "--- a/src/exchange/matching.ts",
      "+++ b/src/exchange/matching.ts",
      "@@ -1,3 +1,3 @@",
      " a line that is not in the file",
      "-another one",
      "+its replacement",
      " and a third",
      "",
    ].join("\n"),
  );
  await withCopy(async (dir) => {
    await Deno.writeTextFile(`${dir}/stale.patch`, patch.text);
    const refused = await applyPatch(dir, "stale.patch", { check: true });
    ok(refused !== undefined && /patch does not apply/.test(refused), refused);
  });
});

Deno.test("parsePlantedPatch needs the header's fields", () => {
  const diff = "diff --git a/x b/x\n";
  const parsed = parsePlantedPatch(
    "x",
    "planted_bugs/x.patch",
    "Bug: b\nBreaks: c\nCaught-by: t1.ts\nCaught-by: t2.ts\nExpect-failure: n\n\n" + diff,
  );
  deepStrictEqual(
    [parsed.bug, parsed.breaks, parsed.caughtBy, parsed.expectFailures],
    ["b", "c", ["t1.ts", "t2.ts"], ["n"]],
  );
  let message = "";
  try {
    parsePlantedPatch("x", "planted_bugs/x.patch", "Bug: b\nBreaks: c\n\n" + diff);
  } catch (error) {
    message = String(error);
  }
  strictEqual(
    message,
    'SyntaxError: Cannot read planted bug planted_bugs/x.patch: needs a "caught-by:" line',
  );
});

Deno.test("failedTestNames reads the FAILURES section of deno test's output", () => {
  const output = [
    "a => b: fails ... FAILED (1ms)",
    "",
    " ERRORS ",
    "",
    "a => b: fails => ./a_test.ts:1:6",
    "error: Error: x",
    "",
    " FAILURES ",
    "",
    "a => b: fails => ./a_test.ts:1:6",
    "other => ./tests/b_test.ts:20:6",
    "",
    "FAILED | 1 passed | 2 failed (17ms)",
  ].join("\n");
  deepStrictEqual(failedTestNames(output), ["a => b: fails", "other"]);
  deepStrictEqual(failedTestNames("ok | 2 passed | 0 failed (1s)"), []);
});
