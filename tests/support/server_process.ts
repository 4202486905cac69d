/** Runs the real server (`main.ts`) as a child process, as a user would, for lifecycle tests. */
import { type ServerChild, spawnServer } from "../../src/server/server_process.ts";

const READY_TIMEOUT_MS = 60_000;

/** A server child process of a test. */
export type ServerProcess = ServerChild;

/**
 * Starts `main.ts` with `args` on a free port, HTTP off (`args` come last and win); resolves once
 * it prints its ready line. `cwd` and `main` run another copy of the project (for example one
 * inside a private directory).
 */
export function startServerProcess(
  args: string[],
  options: { cwd?: string; main?: string } = {},
): Promise<ServerProcess> {
  return spawnServer({
    args: ["--port", "0", "--host", "127.0.0.1", "--http-port", "0", ...args],
    env: { NO_COLOR: "1" },
    readyTimeoutMs: READY_TIMEOUT_MS,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.main === undefined ? {} : { main: options.main }),
  });
}
