/**
 * The "embedded" target: a PostgreSQL 18 cluster of this project's own EmbeddedPostgres class,
 * listening on 127.0.0.1 (the class listens only on a Unix socket by default; the TCP port is
 * what the proxy and the server's `--database-url` need).
 */
import { EmbeddedPostgres } from "../../../src/db/embedded_postgres.ts";
import { freePort } from "../../../src/server/workers.ts";
import { clusterUrl, type FaultCluster } from "./pg_cluster.ts";

const HOST = "127.0.0.1";

/**
 * `fsync` off only: the faults crash PostgreSQL, never the machine, so every WAL write handed to
 * the kernel survives; `synchronous_commit` stays on, since an immediate stop with it off would
 * lose acknowledged commits and the suite would blame the server for it.
 */
const SETTINGS = { fsync: "off" };

/** Starts a fresh embedded cluster in a new temporary directory. */
export async function startEmbeddedCluster(): Promise<FaultCluster> {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-faults-embedded-" });
  const port = freePort(HOST);
  const pg = await EmbeddedPostgres.start({
    dataDir,
    settings: { ...SETTINGS, listen_addresses: `'${HOST}'`, port: String(port) },
  });
  return {
    label: "embedded PostgreSQL 18 (EmbeddedPostgres, fsync off)",
    host: HOST,
    port,
    user: "postgres",
    logFile: pg.logFile,
    url: (database, viaPort) => clusterUrl("postgres", HOST, viaPort ?? port, database),
    stop: (mode) => pg.stop(mode),
    start: () => pg.restart(),
    async close() {
      try {
        await pg.stop("immediate");
      } catch {
        // Already down; the files go anyway.
      }
      const homes = pg.location.relocated ? [pg.location.home, dataDir] : [dataDir];
      for (const dir of homes) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}
