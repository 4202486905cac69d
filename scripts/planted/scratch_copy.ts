/**
 * A throwaway copy of the repository to plant a bug in: the files git tracks (plus untracked
 * files not ignored, so that work not yet committed is tested too), copied as they are on disk,
 * never the working tree itself. `node_modules` is linked, not copied: the copy runs with the
 * same packages, and its install script (the embedded PostgreSQL's library links) has already run.
 */
import { pathExists } from "../../src/db/path_exists.ts";

/** Runs git in `cwd`; returns its exit status and output. */
export async function git(
  cwd: string,
  args: string[],
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const output = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The repository's root containing `dir`. */
export async function repositoryRoot(dir: string): Promise<string> {
  const result = await git(dir, ["rev-parse", "--show-toplevel"]);
  if (!result.success) {
    throw new Error(`Cannot find the repository of ${dir}: ${result.stderr.trim()}`);
  }
  return result.stdout.trim();
}

/**
 * Copies the repository at `root` into the empty directory `dest` and makes `dest` a git
 * repository of its own, so that `git apply` there can never reach an enclosing repository.
 */
export async function copyRepository(root: string, dest: string): Promise<void> {
  const listed = await git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  if (!listed.success) {
    throw new Error(`Cannot list the files of ${root}: ${listed.stderr.trim()}`);
  }
  const files = [...new Set(listed.stdout.split("\0").filter((file) => file !== ""))];
  const made = new Set<string>();
  for (const file of files) {
    const slash = file.lastIndexOf("/");
    const dir = slash < 0 ? "" : file.slice(0, slash);
    if (dir !== "" && !made.has(dir)) {
      await Deno.mkdir(`${dest}/${dir}`, { recursive: true });
      made.add(dir);
    }
    try {
      await Deno.copyFile(`${root}/${file}`, `${dest}/${file}`);
    } catch (error) {
      // A tracked file deleted in the working tree is not part of the tree being tested.
      if (!(error instanceof Deno.errors.NotFound)) {
        throw error;
      }
    }
  }
  // Without node_modules in the repository, Deno installs the packages into the copy itself.
  if (await pathExists(`${root}/node_modules`)) {
    await Deno.symlink(`${root}/node_modules`, `${dest}/node_modules`);
  }
  const init = await git(dest, ["init", "--quiet"]);
  if (!init.success) {
    throw new Error(`Cannot run git init in ${dest}: ${init.stderr.trim()}`);
  }
}

/** Applies (or with `check`, only tries) the patch file `patch` in `dir`; the error text if not. */
export async function applyPatch(
  dir: string,
  patch: string,
  options: { check: boolean },
): Promise<string | undefined> {
  const args = options.check ? ["apply", "--check", patch] : ["apply", patch];
  const result = await git(dir, args);
  return result.success ? undefined : result.stderr.trim() || `git apply exited unsuccessfully`;
}
