/**
 * Runs the server (`main.ts`) as a child process and waits for its ready line: the one way the
 * lifecycle tests, the benchmark and the stress script start a real server as a user would.
 * (The `--workers` supervisor starts its workers itself: it restarts them and forwards their
 * output, which is a different job.)
 */
import { denoRunFlags } from "./deno_run_flags.ts";
import { awaitReadyLine } from "./ready_line.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Most stderr text kept for diagnostics (the newest part). */
const STDERR_KEPT_BYTES_MAX = 256 * 1024;

/** A server child process that has printed its ready line. */
export interface ServerChild {
  pid: number;
  port: number;
  /** The ready line itself ("exchange server listening on ..."). */
  readyLine: string;
  /** What the process wrote to stderr so far (its newest 256 kB). */
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit status once the process ends; stderr is drained by then. */
  status: Promise<Deno.CommandStatus>;
}

export interface SpawnServerOptions {
  /** Arguments of `main.ts`. */
  args: readonly string[];
  /** Another copy of the project's `main.ts` (for example one inside a private directory). */
  main?: string;
  cwd?: string;
  /** Pin the process (and the PostgreSQL it starts) to these CPUs with `taskset -c`. */
  cpuList?: string;
  env?: Record<string, string>;
  readyTimeoutMs: number;
}

/** Starts the server; resolves once it listens, or kills it and throws with its stderr. */
export async function spawnServer(options: SpawnServerOptions): Promise<ServerChild> {
  const denoArgs = ["run", "--allow-all", ...denoRunFlags(), options.main ?? MAIN, ...options.args];
  // taskset execs the program, so the child's pid is the server's pid.
  const [program, args] = options.cpuList === undefined
    ? [Deno.execPath(), denoArgs]
    : ["taskset", ["-c", options.cpuList, Deno.execPath(), ...denoArgs]];
  const child = new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  }).spawn();
  let errors = "";
  // Drained all the time, so that the server never blocks on a full pipe.
  const drained = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      errors += chunk;
      if (errors.length > STDERR_KEPT_BYTES_MAX) {
        errors = errors.slice(errors.length - STDERR_KEPT_BYTES_MAX);
      }
    }
  })().catch(() => {});
  const status = child.status.then(async (exit) => {
    await drained;
    return exit;
  });
  try {
    const ready = await awaitReadyLine(child.stdout, options.readyTimeoutMs);
    return {
      pid: child.pid,
      port: ready.port,
      readyLine: ready.line,
      stderr: () => errors,
      kill: (signal) => child.kill(signal),
      status,
    };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await status;
    throw new Error(`${(error as Error).message}\n${errors}`);
  }
}
