/**
 * Test support for failover tests: a PostgreSQL primary and a SYNCHRONOUS streaming standby on
 * two TCP ports of 127.0.0.1, which a test can kill (the primary) and promote (the standby).
 *
 * Design choices, and why:
 * - Binaries: Debian's PostgreSQL 15 when installed (every machine here has it), else the npm
 *   package's PostgreSQL 18, staged where the `postgres` user can run it by the project's own
 *   `binariesFor`. Both servers run the same binaries: streaming replication needs one major
 *   version.
 * - The standby is made with the low-level backup API (`pg_backup_start`, a file copy,
 *   `pg_backup_stop`), not `pg_basebackup`, which the npm package lacks: one way for both sets
 *   of binaries, so the fallback is the code the usual path tests. A physical replication
 *   slot, made before the backup, keeps the WAL the standby needs.
 * - The primary has `synchronous_standby_names = '*'` from its first start, so every commit
 *   once the standby is attached is on both; the database is created only then (before, its
 *   commit would wait for a standby that does not exist). The standby has it empty: once
 *   promoted it is alone, and '*' would make every commit wait forever.
 * - As root, PostgreSQL runs as the `postgres` user (`ensureOsUser`, as the embedded cluster
 *   does). When that user cannot enter `dir` (a 0700 `mktemp -d`), the clusters live in a
 *   fresh directory under /tmp instead, which `stop()` removes after copying the two logs into
 *   `dir`. Clusters inside `dir` are left to the caller, who owns `dir`.
 * - `killPrimary()` SIGKILLs the postmaster only, as `kill -9` would; its backends notice their
 *   postmaster's death and exit by themselves (waited for, bounded). An `unload` handler kills
 *   everything still running when a test fails before `stop()`.
 */
import { basename, dirname, join } from "node:path";
import postgres from "postgres";
import { canEnter, ensureOsUser, type OsUser } from "../../../src/db/os_user.ts";
import { binariesFor, PACKAGED_BINARIES } from "../../../src/db/postgres_binaries.ts";
import { copyForBaseBackup } from "./base_backup_copy.ts";
import { freePort } from "./free_port.ts";
import { PostgresNode } from "./postgres_node.ts";
import { type ProcessId, ProcessTable } from "./process_table.ts";

const DEBIAN_PG15_BIN = "/usr/lib/postgresql/15/bin";
const PROGRAMS = ["initdb", "pg_ctl", "postgres"];
const USER = "postgres";
const SLOT = "standby";
/** Limit of every wait for the servers: attach, replay, promotion, processes exiting. */
const WAIT_MS_MAX = 60_000;
const POLL_MS = 50;

/** Where the pair lives and what it holds. */
export interface ReplicaPairOptions {
  /** Directory for the clusters and logs (or for the logs only, see the header). */
  dir: string;
  /** Database created on the primary (and so replicated to the standby). */
  database: string;
  /** Directory of initdb, pg_ctl and postgres; default Debian's 15, else the npm package's. */
  binDir?: string;
}

/** A primary and a synchronous standby on 127.0.0.1, for failover tests. */
export class ReplicaPair {
  readonly user = USER;
  /** Directory holding both clusters and their logs. */
  readonly home: string;
  readonly #options: ReplicaPairOptions;
  readonly #primary: PostgresNode;
  readonly #standby: PostgresNode;
  readonly #ownHome: boolean;
  /** Backends of a killed primary: stop() kills any that outlived their postmaster. */
  readonly #orphans: ProcessId[] = [];
  readonly #unload = () => this.#killAllSync();

  private constructor(
    options: ReplicaPairOptions,
    place: { home: string; ownHome: boolean; binDir: string; owner: OsUser | undefined },
  ) {
    this.#options = options;
    this.home = place.home;
    this.#ownHome = place.ownHome;
    const node = (name: string) =>
      new PostgresNode({
        dir: join(place.home, name),
        port: freePort(),
        logFile: join(place.home, `${name}.log`),
        binDir: place.binDir,
        owner: place.owner,
      });
    this.#primary = node("primary");
    this.#standby = node("standby");
    globalThis.addEventListener("unload", this.#unload);
  }

  get primaryPort(): number {
    return this.#primary.port;
  }

  get standbyPort(): number {
    return this.#standby.port;
  }

  /** Creates and starts both servers; returns once the standby is attached synchronously. */
  static async start(options: ReplicaPairOptions): Promise<ReplicaPair> {
    const owner = Deno.uid() === 0 ? await ensureOsUser() : undefined;
    const binDir = options.binDir ?? await defaultBinDir(owner);
    await Deno.mkdir(options.dir, { recursive: true });
    const ownHome = owner !== undefined && !(await canEnter(owner, options.dir));
    const home = ownHome
      ? await Deno.makeTempDir({ dir: "/tmp", prefix: "replica-pair-" })
      : join(options.dir, "replica-pair");
    await Deno.mkdir(home, { recursive: true });
    await Deno.chmod(home, 0o755);
    const pair = new ReplicaPair(options, { home, ownHome, binDir, owner });
    try {
      await pair.#create();
    } catch (error) {
      await pair.stop();
      throw error;
    }
    return pair;
  }

  /**
   * Both servers in one URL; postgres.js tries them in turn until one has `targetSessionAttrs`.
   * The default is "primary", not "read-write": postgres.js 3.4.7 judges "read-write" by the
   * `default_transaction_read_only` that PostgreSQL 14 and later report at startup, which is
   * "off" on a hot standby too, so "read-write" accepts the standby (whose writes then fail
   * with 25006). "primary" reads the reported `in_hot_standby` and gets it right.
   */
  url(targetSessionAttrs: "primary" | "read-write" = "primary"): string {
    return `postgres://${USER}@127.0.0.1:${this.primaryPort},127.0.0.1:${this.standbyPort}/` +
      `${encodeURIComponent(this.#options.database)}?target_session_attrs=${targetSessionAttrs}`;
  }

  /** SIGKILLs the primary's postmaster and waits until it and its backends are gone. */
  async killPrimary(): Promise<void> {
    const postmaster = ProcessTable.postmaster(this.#primary.dir);
    if (postmaster === undefined) {
      return;
    }
    const backends = ProcessTable.children(postmaster);
    this.#orphans.push(...backends);
    ProcessTable.kill(postmaster);
    await waitFor(() => !ProcessTable.alive(postmaster), "the primary's postmaster to die");
    // Backends notice their postmaster's death and exit (measured: within milliseconds).
    await waitFor(() => !backends.some(ProcessTable.alive), "the primary's backends to exit");
  }

  /** Promotes the standby and waits until it accepts writes; returns the milliseconds taken. */
  async promoteStandby(): Promise<number> {
    const started = performance.now();
    await this.#standby.promote();
    const sql = connect(this.#standby, "postgres");
    try {
      await waitFor(async () => {
        const [row] = await sql`select pg_is_in_recovery() as recovering,
          current_setting('transaction_read_only') as read_only`;
        return row?.recovering === false && row?.read_only === "off";
      }, "the promoted standby to accept writes");
    } finally {
      await sql.end({ timeout: 1 });
    }
    return Math.round(performance.now() - started);
  }

  /** Stops whatever still runs; removes only the directory it made itself under /tmp. */
  async stop(): Promise<void> {
    // The standby first: a primary shutting down waits until its walsenders have handed the
    // shutdown checkpoint to their standbys.
    await this.#standby.stop();
    await this.#primary.stop();
    this.#orphans.forEach(ProcessTable.kill);
    globalThis.removeEventListener("unload", this.#unload);
    this.#removeOwnHome();
  }

  /** For `unload`, which cannot wait: kills everything, keeps the logs, removes the home. */
  #killAllSync(): void {
    this.#primary.killSync();
    this.#standby.killSync();
    this.#orphans.forEach(ProcessTable.kill);
    this.#removeOwnHome();
  }

  /** Copies the logs into the caller's `dir` and removes the home made under /tmp, if any. */
  #removeOwnHome(): void {
    if (!this.#ownHome) {
      return;
    }
    for (const node of [this.#primary, this.#standby]) {
      try {
        Deno.copyFileSync(node.logFile, join(this.#options.dir, basename(node.logFile)));
      } catch {
        // No log yet (start failed early), or the caller removed `dir` already.
      }
    }
    try {
      Deno.removeSync(this.home, { recursive: true });
    } catch (error) {
      // A second stop() finds nothing left to do.
      if (!(error instanceof Deno.errors.NotFound)) {
        throw error;
      }
    }
  }

  async #create(): Promise<void> {
    const [primary, standby] = [this.#primary, this.#standby];
    await primary.initdb(USER);
    await primary.writeSettings(this.#settings("primary"));
    await primary.start();
    const sql = connect(primary, "postgres");
    try {
      await sql`select pg_create_physical_replication_slot(${SLOT}, true)`;
      // The low-level backup API: one session starts and stops the backup.
      const session = await sql.reserve();
      try {
        await session`select pg_backup_start('replica-pair', true)`;
        await copyForBaseBackup(primary.dir, standby.dir, primary.owner);
        // No tablespaces, so no tablespace_map; false: there is no WAL archive to wait for.
        const [backup] = await session`select labelfile from pg_backup_stop(false)`;
        await standby.writeFile("backup_label", String(backup?.labelfile));
      } finally {
        session.release();
      }
      await standby.writeFile("standby.signal", "");
      await standby.writeSettings(this.#settings("standby"));
      await standby.start();
      await waitFor(async () => {
        const rows = await sql`select 1 from pg_stat_replication
          where application_name = 'standby' and state = 'streaming' and sync_state = 'sync'`;
        return rows.length === 1;
      }, "the standby to stream synchronously");
      await sql`create database ${sql(this.#options.database)}`;
      // A synchronous commit waits until the standby has the WAL on disk, not until it has
      // applied it: wait for that too, so that the standby starts with the database in it.
      const [current] = await sql`select pg_current_wal_lsn()::text as lsn`;
      const lsn = String(current?.lsn);
      await waitFor(async () => {
        const rows = await sql`select 1 from pg_stat_replication
          where application_name = 'standby' and replay_lsn >= ${lsn}::pg_lsn`;
        return rows.length === 1;
      }, "the standby to replay the new database");
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  #settings(node: "primary" | "standby"): Record<string, string> {
    const settings: Record<string, string> = {
      max_connections: "100",
      shared_buffers: "16MB",
      wal_level: "replica",
      max_wal_senders: "4",
      max_replication_slots: "4",
      hot_standby: "on",
      synchronous_commit: "on",
      synchronous_standby_names: node === "primary" ? "'*'" : "''",
      // A standby whose primary vanished without a word should notice within seconds.
      wal_receiver_timeout: "5s",
      wal_retrieve_retry_interval: "500ms",
    };
    if (node === "standby") {
      settings.primary_conninfo =
        `'host=127.0.0.1 port=${this.primaryPort} user=${USER} application_name=standby'`;
      settings.primary_slot_name = `'${SLOT}'`;
    }
    return settings;
  }
}

function connect(node: PostgresNode, database: string) {
  return postgres({
    host: "127.0.0.1",
    port: node.port,
    user: USER,
    database,
    max: 1,
    onnotice: () => {},
  });
}

async function defaultBinDir(owner: OsUser | undefined): Promise<string> {
  const debian = PROGRAMS.every((program) => {
    try {
      return Deno.statSync(join(DEBIAN_PG15_BIN, program)).isFile;
    } catch {
      return false;
    }
  });
  if (debian) {
    return DEBIAN_PG15_BIN;
  }
  const binaries = owner === undefined ? PACKAGED_BINARIES : await binariesFor(owner);
  return dirname(binaries.pg_ctl);
}

/** Polls `check` every POLL_MS until true; a check that throws counts as not yet. */
async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS_MAX;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) {
      return;
    }
    if (performance.now() > deadline) {
      throw new Error(`Gave up after ${WAIT_MS_MAX} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
