/** Runs the real server (`main.ts`) as a child process, as a user would, for lifecycle tests. */
import { denoRunFlags } from "../../src/server/deno_run_flags.ts";
import { awaitReadyLine, type ReadyLine } from "../../src/server/ready_line.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 60_000;

export interface ServerProcess {
  port: number;
  pid: number;
  /** Everything the process printed on stderr so far (logs). */
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit status once the process ends. */
  status: Promise<Deno.CommandStatus>;
}

/**
 * Starts `main.ts` with `args` on a free port; resolves once it prints its ready line. `cwd`
 * and `main` run another copy of the project (for example one inside a private directory).
 */
export async function startServerProcess(
  args: string[],
  options: { cwd?: string; main?: string } = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    // HTTP off unless a test asks for it (`args` come last and win).
    args: [
      "run",
      "--allow-all",
      ...denoRunFlags(),
      options.main ?? MAIN,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--http-port",
      "0",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  }).spawn();
  let errors = "";
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      errors += chunk;
    }
  })();
  let ready: ReadyLine;
  try {
    ready = await awaitReadyLine(child.stdout, READY_TIMEOUT_MS);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    throw new Error(`${(error as Error).message}\n${errors}`);
  }
  return {
    port: ready.port,
    pid: ready.pid,
    stderr: () => errors,
    kill: (signal) => child.kill(signal),
    status: child.status,
  };
}
