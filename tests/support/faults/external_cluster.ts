/**
 * The "external" target: Debian's PostgreSQL 15 with its default settings, as an operator's
 * separate database server would be, reached by the server through `--database-url`. Only what
 * connecting needs is set (port, address, socket directory); everything else is PostgreSQL's
 * default, autovacuum and durability included.
 */
import { join } from "node:path";
import { canEnter, ensureOsUser } from "../../../src/db/os_user.ts";
import { ensureRootOwnedDirectory, STAGING_ROOT } from "../../../src/db/staging_root.ts";
import { freePort } from "../../../src/server/workers.ts";
import { clusterUrl, type FaultCluster } from "./pg_cluster.ts";
import { runChecked } from "./run_command.ts";

/** Debian's PostgreSQL 15 programs. */
export const PG15_BIN = "/usr/lib/postgresql/15/bin";
const HOST = "127.0.0.1";
const PG_CTL_TIMEOUT_MS = 90_000;

/**
 * A new directory the cluster's user (`postgres`, when this is root) can enter. A temporary directory is 0700 and root's, and
 * may sit inside another private directory; opening it (0711) is enough unless a parent is
 * closed too, and then it goes under the project's root-owned staging root instead.
 */
export async function reachableDirectory(asRoot: boolean): Promise<string> {
  const prefix = "exchange-faults-pg-";
  let dir = await Deno.makeTempDir({ prefix });
  if (!asRoot) {
    return dir;
  }
  const owner = await ensureOsUser();
  await Deno.chmod(dir, 0o711);
  if (!(await canEnter(owner, dir))) {
    await Deno.remove(dir, { recursive: true });
    await ensureRootOwnedDirectory(STAGING_ROOT);
    dir = await Deno.makeTempDir({ dir: STAGING_ROOT, prefix });
    await Deno.chmod(dir, 0o711);
  }
  return dir;
}

/** Creates and starts a PostgreSQL 15 cluster (as the `postgres` user when this is root). */
export async function startExternalCluster(): Promise<FaultCluster> {
  const owner = Deno.uid() === 0 ? await ensureOsUser() : undefined;
  const home = await reachableDirectory(owner !== undefined);
  const clusterDir = join(home, "pg");
  const logFile = join(clusterDir, "server.log");
  const port = freePort(HOST);
  const run = (binary: string, args: string[]) =>
    runChecked(join(PG15_BIN, binary), args, { owner, timeoutMs: PG_CTL_TIMEOUT_MS });
  await Deno.mkdir(clusterDir, { mode: 0o700 });
  if (owner !== undefined) {
    await Deno.chown(clusterDir, owner.uid, owner.gid);
  }
  await run("initdb", [
    `--pgdata=${clusterDir}`,
    "--username=postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
  ]);
  const start = () =>
    run("pg_ctl", [
      "start",
      "-D",
      clusterDir,
      "-l",
      logFile,
      "-w",
      "-t",
      "60",
      "-o",
      `-c listen_addresses=${HOST} -p ${port} -c unix_socket_directories=${clusterDir}`,
    ]).then(() => {});
  const stop = (mode: "fast" | "immediate") =>
    run("pg_ctl", ["stop", "-D", clusterDir, "-m", mode, "-w", "-t", "60"]).then(() => {});
  await start();
  return {
    label: "Debian PostgreSQL 15 (default settings)",
    host: HOST,
    port,
    user: "postgres",
    logFile,
    url: (database, viaPort) => clusterUrl("postgres", HOST, viaPort ?? port, database),
    stop,
    start,
    async close() {
      await stop("immediate").catch(() => {});
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}
