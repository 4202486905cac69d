/**
 * Which code a run measured: the commit and whether the working tree differed from it. A number
 * from a dirty tree belongs to no commit, so the report says so at its top.
 */

/** The commit a run measured, and how the working tree differed from it. */
export interface Provenance {
  /** `git rev-parse HEAD`, or "unknown" when git or the repository is missing. */
  commit: string;
  /** `git status --porcelain` was not empty; undefined when git could not be asked. */
  dirty: boolean | undefined;
  /** The first lines of `git status --porcelain` (what differed). */
  changes: string[];
}

/** Lines of `git status --porcelain` kept in results.json: enough to tell what differed. */
const CHANGES_KEPT = 20;

async function git(repo: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", repo, ...args],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.code === 0 ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Asks git about the repository at `repo`; taken before the run writes anything. */
export async function readProvenance(repo: string): Promise<Provenance> {
  const commit = (await git(repo, ["rev-parse", "HEAD"]))?.trim();
  const status = await git(repo, ["status", "--porcelain"]);
  const changes = status === undefined ? [] : status.split("\n").filter((l) => l.trim() !== "");
  return {
    commit: commit === undefined || commit === "" ? "unknown" : commit,
    dirty: status === undefined ? undefined : changes.length > 0,
    changes: changes.slice(0, CHANGES_KEPT),
  };
}

/** One line for the top of the report, e.g. "Commit `0a1b2c3…` (dirty: 2 paths changed)". */
export function provenanceLine(p: Provenance): string {
  const state = p.dirty === undefined
    ? "working tree state unknown"
    : p.dirty
    ? `**dirty**: ${p.changes.length}${
      p.changes.length === CHANGES_KEPT ? "+" : ""
    } paths differ from it, listed in results.json`
    : "clean working tree";
  return `Commit \`${p.commit}\` (${state}).`;
}
