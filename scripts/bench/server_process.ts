/**
 * Starts the exchange server as a subprocess (optionally pinned with taskset; PostgreSQL, which
 * the server starts, inherits the pinning) and stops it with SIGTERM so PostgreSQL stops too.
 */
import { fileURLToPath } from "node:url";
import { denoRunFlags } from "../../src/server/deno_run_flags.ts";
import { awaitReadyLine } from "../../src/server/ready_line.ts";
import { freePort as freePortOn } from "../../src/server/workers.ts";
import { postmasterPid } from "./proc_stats.ts";

/** The repository root (scripts/bench/ is two levels down). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How long the first start may take: Deno may fetch npm packages and initdb runs. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;

/** A running server subprocess. */
export interface ServerProcess {
  pid: number;
  port: number;
  /** The HTTP side port, whose `/metrics` the bench scrapes for batch sizes (undefined: off). */
  httpPort: number | undefined;
  dataDir: string;
  /** The server's own start-up line ("exchange server listening on ..."). */
  banner: string;
  /** The last lines the server wrote to stderr, for diagnostics. */
  stderrTail(): string[];
  /** SIGTERM, wait for exit (SIGKILL and a PostgreSQL fast shutdown if it hangs). */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort(): number {
  return freePortOn("127.0.0.1");
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, newline);
      pending = pending.slice(newline + 1);
    }
  }
  if (pending !== "") {
    yield pending;
  }
}

/**
 * Starts `main.ts` on `port` with an embedded database in `dataDir`; resolves once it listens.
 * The HTTP side port listens on loopback at `httpPort` when given, else it is off.
 */
export async function startServer(options: {
  port: number;
  httpPort?: number;
  dataDir: string;
  cpuList: string | undefined;
  extraArgs: string[];
}): Promise<ServerProcess> {
  const serverArgs = [
    "run",
    "-A",
    ...denoRunFlags(),
    `${REPO_ROOT}main.ts`,
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--data-dir",
    options.dataDir,
    "--reset",
    // The idle-connection measurement holds connections open longer than the default timeout.
    "--idle-timeout-ms",
    "600000",
    // The bench scrapes /metrics (batch sizes) around each point; without a port given, HTTP is
    // off (and never collides on the default port).
    "--http-port",
    String(options.httpPort ?? 0),
    ...options.extraArgs,
  ];
  // taskset execs the program, so the child's pid is the server's pid.
  const [program, args] = options.cpuList === undefined
    ? [Deno.execPath(), serverArgs]
    : ["taskset", ["-c", options.cpuList, Deno.execPath(), ...serverArgs]];
  const child = new Deno.Command(program, {
    args,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  // Drain stderr all the time so the server never blocks on a full pipe.
  const stderrDone = (async () => {
    for await (const line of lines(child.stderr)) {
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      status.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await status;
      // A killed server cannot stop its PostgreSQL; SIGINT is PostgreSQL's fast shutdown.
      const postmaster = postmasterPid(options.dataDir);
      if (postmaster !== undefined) {
        Deno.kill(postmaster, "SIGINT");
      }
    }
    await stderrDone;
  };

  let banner: string;
  try {
    banner = (await awaitReadyLine(child.stdout, START_TIMEOUT_MS)).line;
  } catch {
    await stop();
    throw new Error(`server did not start; its last output:\n${tail.join("\n")}`);
  }
  return {
    pid: child.pid,
    port: options.port,
    httpPort: options.httpPort,
    dataDir: options.dataDir,
    banner,
    stderrTail: () => [...tail],
    stop,
  };
}
