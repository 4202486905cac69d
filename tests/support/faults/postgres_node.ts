/**
 * Test support: one PostgreSQL server for multi-server tests (a primary, a standby), run with
 * a chosen set of binaries through `pg_ctl`, as the cluster's OS user.
 *
 * When this process is root the programs run as the `postgres` user (PostgreSQL refuses to run
 * as root) and every file written here is given to that user, as the project's embedded
 * cluster does. Settings live in `node.conf`, included from `postgresql.conf` and rewritten as
 * a whole, so a node's configuration is readable in one short file.
 */
import { join } from "node:path";
import type { OsUser } from "../../../src/db/os_user.ts";
import { ProcessTable } from "./process_table.ts";

const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 30;

/** Where a node lives and what runs it. */
export interface PostgresNodeOptions {
  /** The cluster's data directory (PGDATA); made by `initdb` or by a base backup. */
  dir: string;
  port: number;
  logFile: string;
  /** Directory holding initdb, pg_ctl and postgres. */
  binDir: string;
  /** The OS user the cluster runs as, when this process is root. */
  owner: OsUser | undefined;
}

/** One PostgreSQL server on 127.0.0.1, driven with initdb and pg_ctl. */
export class PostgresNode {
  readonly dir: string;
  readonly port: number;
  readonly logFile: string;
  readonly owner: OsUser | undefined;
  readonly #binDir: string;

  constructor(options: PostgresNodeOptions) {
    this.dir = options.dir;
    this.port = options.port;
    this.logFile = options.logFile;
    this.owner = options.owner;
    this.#binDir = options.binDir;
  }

  /** Creates the cluster with trust authentication for `user`, locally and on 127.0.0.1. */
  async initdb(user: string): Promise<void> {
    await Deno.mkdir(this.dir, { mode: 0o700 });
    await this.#chown(this.dir);
    await this.#run("initdb", [
      `--pgdata=${this.dir}`,
      `--username=${user}`,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
      // Test clusters are rebuilt by every run; syncing the template files costs seconds.
      "--no-sync",
    ]);
    await Deno.writeTextFile(join(this.dir, "postgresql.conf"), "\ninclude 'node.conf'\n", {
      append: true,
    });
    await this.writeFile(
      "pg_hba.conf",
      "local all all trust\nhost all all 127.0.0.1/32 trust\n" +
        "host replication all 127.0.0.1/32 trust\n",
    );
  }

  /** Writes `node.conf`: listening on 127.0.0.1 at `port` only (no Unix socket), plus `settings`. */
  writeSettings(settings: Record<string, string>): Promise<void> {
    const all = {
      listen_addresses: "'127.0.0.1'",
      port: String(this.port),
      // No socket file: nothing shared with other clusters, and TCP is what tests go through.
      unix_socket_directories: "''",
      ...settings,
    };
    const lines = Object.entries(all).map(([key, value]) => `${key} = ${value}\n`);
    return this.writeFile("node.conf", lines.join(""));
  }

  /** Writes a file in the data directory, owned by the cluster's user. */
  async writeFile(name: string, text: string): Promise<void> {
    const path = join(this.dir, name);
    await Deno.writeTextFile(path, text);
    await this.#chown(path);
  }

  /** Starts the server; returns once it accepts connections. */
  async start(): Promise<void> {
    // pg_ctl opens the log as the cluster's user, who may not create files here.
    await Deno.writeTextFile(this.logFile, "", { append: true });
    await this.#chown(this.logFile);
    await this.#run("pg_ctl", [
      ...["start", "-D", this.dir, "-l", this.logFile],
      ...["-w", "-t", String(START_TIMEOUT_S)],
    ]);
  }

  /** Ends recovery of a standby; returns once it has (`pg_ctl promote -w`). */
  async promote(): Promise<void> {
    await this.#run("pg_ctl", ["promote", "-D", this.dir, "-w", "-t", String(START_TIMEOUT_S)]);
  }

  /** Stops the server if it runs: a fast shutdown, or SIGKILL if that fails. */
  async stop(): Promise<void> {
    if (ProcessTable.postmaster(this.dir) === undefined) {
      return;
    }
    const args = ["stop", "-D", this.dir, "-m", "fast", "-w", "-t", String(STOP_TIMEOUT_S)];
    if (!(await this.#run("pg_ctl", args, false))) {
      this.killSync();
    }
  }

  /** SIGKILLs the postmaster and its backends; for cleanups that cannot wait. */
  killSync(): void {
    const postmaster = ProcessTable.postmaster(this.dir);
    if (postmaster !== undefined) {
      ProcessTable.children(postmaster).forEach(ProcessTable.kill);
      ProcessTable.kill(postmaster);
    }
  }

  async #chown(path: string): Promise<void> {
    if (this.owner !== undefined) {
      await Deno.chown(path, this.owner.uid, this.owner.gid);
    }
  }

  /** Runs one of the programs as the cluster's user; throws on failure unless `check` is off. */
  async #run(program: string, args: string[], check = true): Promise<boolean> {
    const output = await new Deno.Command(join(this.#binDir, program), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C.UTF-8" },
      // The cluster's user may not be able to enter the current directory.
      cwd: "/",
      ...(this.owner === undefined ? {} : { uid: this.owner.uid, gid: this.owner.gid }),
    }).output();
    if (check && output.code !== 0) {
      const text = new TextDecoder().decode(output.stderr) +
        new TextDecoder().decode(output.stdout);
      throw new Error(`${program} ${args[0]} failed (exit ${output.code}): ${text.trim()}`);
    }
    return output.code === 0;
  }
}
