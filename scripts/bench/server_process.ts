/**
 * Starts the exchange server as a subprocess (optionally pinned with taskset; PostgreSQL, which
 * the server starts, inherits the pinning) and stops it with SIGTERM so PostgreSQL stops too.
 */
import { fileURLToPath } from "node:url";
import { type ServerChild, spawnServer } from "../../src/server/server_process.ts";
import { freePort as freePortOn } from "../../src/server/workers.ts";
import type { BenchDatabase } from "./bench_database.ts";
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
  /** The server's own start-up line ("exchange server listening on ..."). */
  banner: string;
  /** The last lines the server wrote to stderr, for diagnostics. */
  stderrTail(): string[];
  /** Resolves when the process has ended, whoever ended it. */
  exited: Promise<Deno.CommandStatus>;
  /** SIGTERM, wait for exit (SIGKILL and a PostgreSQL fast shutdown if it hangs). */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort(): number {
  return freePortOn("127.0.0.1");
}

/**
 * Starts `main.ts` on `port` with `database` (its flags: `--data-dir D` or `--database-url U`);
 * resolves once it listens. The HTTP side port listens on loopback at `httpPort` when given,
 * else it is off. An embedded cluster the server cannot stop is stopped here; an external
 * PostgreSQL never is.
 */
export async function startServer(options: {
  port: number;
  httpPort?: number;
  database: Pick<BenchDatabase, "serverArgs" | "dataDir">;
  cpuList: string | undefined;
  extraArgs: string[];
}): Promise<ServerProcess> {
  const dataDir = options.database.dataDir;
  const serverArgs = [
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port),
    ...options.database.serverArgs,
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
  /** A killed server cannot stop its PostgreSQL; SIGINT is PostgreSQL's fast shutdown. */
  const stopPostgres = () => {
    if (dataDir === undefined) {
      return;
    }
    const postmaster = postmasterPid(dataDir);
    if (postmaster !== undefined) {
      Deno.kill(postmaster, "SIGINT");
    }
  };
  let child: ServerChild;
  try {
    child = await spawnServer({
      args: serverArgs,
      cwd: REPO_ROOT,
      readyTimeoutMs: START_TIMEOUT_MS,
      ...(options.cpuList === undefined ? {} : { cpuList: options.cpuList }),
    });
  } catch (error) {
    stopPostgres();
    throw new Error(`server did not start: ${(error as Error).message}`);
  }
  let exited = false;
  child.status.then(() => {
    exited = true;
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
      child.status.then(() => false),
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
      await child.status;
      stopPostgres();
    }
  };

  return {
    pid: child.pid,
    port: options.port,
    httpPort: options.httpPort,
    banner: child.readyLine,
    stderrTail: () => child.stderr().split("\n").slice(-40),
    exited: child.status,
    stop,
  };
}
