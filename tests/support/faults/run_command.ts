/**
 * Runs a helper program (pg_ctl, initdb, psql) with a deadline, optionally as the `postgres`
 * user: every PostgreSQL program of the fault suite goes through here, so none can hang the run.
 */
import type { OsUser } from "../../../src/db/os_user.ts";

/** What a finished (or killed) command left. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True if the deadline killed it. */
  timedOut: boolean;
}

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Run as this user (PostgreSQL refuses to run as root). */
  owner?: OsUser | undefined;
  /** Kill the program after this long (SIGKILL); the result then says `timedOut`. */
  timeoutMs: number;
  env?: Record<string, string>;
  stdin?: string;
}

/** Runs `binary` with `args`; never throws for a non-zero exit (the caller decides). */
export async function runCommand(
  binary: string,
  args: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  try {
    const child = new Deno.Command(binary, {
      args: [...args],
      stdout: "piped",
      stderr: "piped",
      stdin: options.stdin === undefined ? "null" : "piped",
      // The postgres user may not be able to enter the current directory (a private checkout).
      cwd: "/",
      env: { LC_ALL: "C.UTF-8", ...options.env },
      signal: controller.signal,
      ...(options.owner === undefined ? {} : { uid: options.owner.uid, gid: options.owner.gid }),
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin)).catch(() => {});
      await writer.close().catch(() => {});
    }
    const output = await child.output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs and throws with the program's output unless it exits 0 in time. */
export async function runChecked(
  binary: string,
  args: readonly string[],
  options: RunOptions,
): Promise<string> {
  const result = await runCommand(binary, args, options);
  if (result.code !== 0 || result.timedOut) {
    const name = binary.split("/").pop();
    const why = result.timedOut ? `timed out after ${options.timeoutMs} ms` : `exit ${result.code}`;
    throw new Error(`${name} ${args[0] ?? ""} failed (${why}): ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}
