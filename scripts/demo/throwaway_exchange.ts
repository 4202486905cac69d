/**
 * The demo's exchange: the real server (`main.ts`, started by the bench's `startServer`) on an
 * embedded PostgreSQL in a new temporary directory, and the one function that takes all of it
 * away again, leaving no process and no directory behind.
 */
import { locateCluster } from "../../src/db/cluster_location.ts";
import { runningPostmasterPid } from "../../src/db/embedded_postgres.ts";
import { freePort, type ServerProcess, startServer } from "../bench/server_process.ts";

/** How long a PostgreSQL left behind gets for a fast shutdown, then for an immediate one. */
const POSTGRES_FAST_STOP_MS = 20_000;
const POSTGRES_IMMEDIATE_STOP_MS = 10_000;
const POLL_MS = 100;

export class ThrowawayExchange {
  /** The server's `--data-dir`: a fresh temporary directory, removed by {@link dispose}. */
  readonly dataDir: string;
  #server: ServerProcess | undefined;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Makes the temporary data directory; nothing runs yet. */
  static async create(): Promise<ThrowawayExchange> {
    // Directly under the system's temporary directory: as root the cluster runs as `postgres`,
    // which can enter /tmp, so the cluster stays inside this directory (see cluster_location.ts).
    return new ThrowawayExchange(await Deno.makeTempDir({ prefix: "exchange-demo-" }));
  }

  /**
   * Starts the server on `port` (TCP) and `httpPort` (the page), each 0 for a free one, and
   * resolves once it listens.
   */
  async start(port: number, httpPort: number): Promise<ServerProcess> {
    this.#server = await startServer({
      port: port === 0 ? freePort() : port,
      httpPort: httpPort === 0 ? freePort() : httpPort,
      database: { serverArgs: ["--data-dir", this.dataDir], dataDir: this.dataDir },
      cpuList: undefined,
      extraArgs: [],
    });
    return this.#server;
  }

  /**
   * Stops the server (SIGTERM; it stops its PostgreSQL), then any PostgreSQL still running on
   * the data directory (a server killed before it could stop it), then removes the directory
   * and, if the cluster was placed elsewhere, the cluster's own directory. Returns what could
   * not be done; a directory under a PostgreSQL that will not stop is left where it is.
   */
  async dispose(): Promise<string[]> {
    await this.#server?.stop();
    // Read before the data directory, which records where a relocated cluster lives, is gone.
    const cluster = locateCluster(this.dataDir);
    const postmaster = await stopPostgres(this.dataDir);
    if (postmaster !== undefined) {
      return [`PostgreSQL (pid ${postmaster}) on ${cluster.clusterDir} did not stop; left it`];
    }
    const problems: string[] = [];
    for (const dir of cluster.relocated ? [this.dataDir, cluster.home] : [this.dataDir]) {
      try {
        await Deno.remove(dir, { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          problems.push(`could not remove ${dir}: ${(error as Error).message}`);
        }
      }
    }
    return problems;
  }
}

/** Stops a PostgreSQL running on `dataDir`, if any; returns its pid if it would not stop. */
async function stopPostgres(dataDir: string): Promise<number | undefined> {
  for (
    const [signal, waitMs] of [
      ["SIGINT", POSTGRES_FAST_STOP_MS],
      ["SIGQUIT", POSTGRES_IMMEDIATE_STOP_MS],
    ] as const
  ) {
    const pid = runningPostmasterPid(dataDir);
    if (pid === undefined) {
      return undefined;
    }
    try {
      Deno.kill(pid, signal);
    } catch {
      // Gone in the meantime.
    }
    for (let waited = 0; waited < waitMs && runningPostmasterPid(dataDir) !== undefined;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      waited += POLL_MS;
    }
  }
  return runningPostmasterPid(dataDir);
}
