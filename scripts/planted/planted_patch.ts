/**
 * A planted bug: one `.patch` file in `planted_bugs/`, a `git diff` with a header in front of it
 * saying what it breaks and which tests must catch it. `git apply` skips text before the first
 * `diff --git` line, so the header travels with the patch:
 *
 *   Bug: one line, what is wrong
 *   Breaks: what goes wrong because of it
 *   Caught-by: tests/trading/fills_test.ts      (one line per test file, at least one)
 *   Expect-failure: a test's exact name          (one line per test that must fail, at least one)
 */

/** The directory of the patches, relative to the repository root. */
export const PLANTED_BUGS_DIR = "planted_bugs";

/** One planted bug as its patch file describes it. */
export interface PlantedPatch {
  /** The file name without `.patch`. */
  readonly name: string;
  /** Path relative to the repository root. */
  readonly path: string;
  readonly bug: string;
  readonly breaks: string;
  /** Test files to run, relative to the repository root. */
  readonly caughtBy: readonly string[];
  /** Names of tests (in `caughtBy`) that must fail with the patch applied. */
  readonly expectFailures: readonly string[];
  /** The whole file, header included. */
  readonly text: string;
}

/** Reads the header of a patch file; throws a SyntaxError naming the file if it is incomplete. */
export function parsePlantedPatch(name: string, path: string, text: string): PlantedPatch {
  const diffAt = text.search(/^diff --git /m);
  if (diffAt < 0) {
    throw new SyntaxError(`Cannot read planted bug ${path}: no "diff --git" line`);
  }
  const fields = new Map<string, string[]>();
  for (const line of text.slice(0, diffAt).split("\n")) {
    const match = /^([A-Za-z-]+):\s*(.*?)\s*$/.exec(line);
    if (match === null) {
      continue;
    }
    const key = match[1]!.toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), match[2]!]);
  }
  const one = (key: string): string => {
    const values = fields.get(key) ?? [];
    if (values.length !== 1 || values[0] === "") {
      throw new SyntaxError(`Cannot read planted bug ${path}: needs exactly one "${key}:" line`);
    }
    return values[0]!;
  };
  const some = (key: string): string[] => {
    const values = (fields.get(key) ?? []).filter((value) => value !== "");
    if (values.length === 0) {
      throw new SyntaxError(`Cannot read planted bug ${path}: needs a "${key}:" line`);
    }
    return values;
  };
  return {
    name,
    path,
    bug: one("bug"),
    breaks: one("breaks"),
    caughtBy: some("caught-by"),
    expectFailures: some("expect-failure"),
    text,
  };
}

/** Every planted bug under `root`, sorted by name. */
export async function listPlantedPatches(root: string): Promise<PlantedPatch[]> {
  const patches: PlantedPatch[] = [];
  for await (const entry of Deno.readDir(`${root}/${PLANTED_BUGS_DIR}`)) {
    if (!entry.isFile || !entry.name.endsWith(".patch")) {
      continue;
    }
    const path = `${PLANTED_BUGS_DIR}/${entry.name}`;
    const text = await Deno.readTextFile(`${root}/${path}`);
    patches.push(parsePlantedPatch(entry.name.slice(0, -".patch".length), path, text));
  }
  return patches.sort((a, b) => a.name.localeCompare(b.name));
}
