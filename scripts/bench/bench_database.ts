/**
 * Where the bench's PostgreSQL lives: the embedded cluster that the server itself starts in a
 * temporary data directory, or an external cluster the operator runs (`--database-url`), on
 * which the bench creates a fresh database for the server and another for pgbench, and drops
 * both at the end. Either way the bench gets an admin connection (CHECKPOINT between points,
 * the version) and a pgbench target on the same cluster as the server.
 */
import { buildConfig } from "../../src/config.ts";
import { openPool, type Sql } from "../../src/db/database.ts";
import { embeddedTarget } from "../../src/db/embedded_target.ts";
import type { PgTarget } from "./pgbench.ts";
import { postgresSocketDir, postmasterPid } from "./proc_stats.ts";

/** What the bench reaches once the server runs. */
export interface AttachedDatabase {
  /** One connection for CHECKPOINT and the version. */
  admin: Sql;
  /** Where pgbench runs: the same cluster as the server. */
  pgbench: PgTarget;
  /** The cluster's postmaster, for PostgreSQL's CPU; undefined on an external cluster. */
  postmaster: number | undefined;
  /** Flushes dirty pages so that no point pays for the one before (see quiesce in bench.ts). */
  checkpoint(): Promise<void>;
  /** Closes what `attach` opened (the server's cluster itself keeps running). */
  detach(): Promise<void>;
}

/** The bench's PostgreSQL, embedded or external. */
export interface BenchDatabase {
  kind: "embedded" | "external";
  /** For the report; never holds a password. */
  description: string;
  /** The flags that give the server its database. */
  serverArgs: string[];
  /** The embedded cluster's data directory (undefined: external). */
  dataDir: string | undefined;
  /** Connects once the server runs (the server starts the embedded cluster itself). */
  attach(): Promise<AttachedDatabase | undefined>;
  /** Removes what the bench created: the temporary cluster, or the two databases. */
  dispose(): Promise<void>;
}

/**
 * The admin connection's settings: the server's defaults, except a statement timeout long
 * enough for a CHECKPOINT after pgbench at scale 64, or a CREATE DATABASE on a busy cluster.
 */
function adminConfig() {
  return {
    ...buildConfig(new Map(), navigator.hardwareConcurrency).database,
    poolSize: 1,
    statementTimeoutMs: 600_000,
  };
}

/**
 * `text` with the password of every postgres URL in it replaced: a URL for the report, or a
 * command line that holds one.
 */
export function redactPasswords(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^@\s]*@/g, "$1***@");
}

/** `url` with its database (the path) replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** A temporary data directory; the server starts and stops its cluster with `--reset`. */
export async function embeddedDatabase(): Promise<BenchDatabase> {
  // Short path: the PostgreSQL socket must fit in 107 bytes. Shared by every core setting, so
  // pgbench's tables are built once; the exchange's schema is reset at each start.
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-bench-" });
  return {
    kind: "embedded",
    description: "embedded PostgreSQL (a temporary cluster the server starts)",
    serverArgs: ["--data-dir", dataDir],
    dataDir,
    attach() {
      // The running cluster's socket, as the server itself reaches it (relocated or not).
      if (postgresSocketDir(dataDir) === undefined) {
        return Promise.resolve(undefined);
      }
      const target = embeddedTarget(dataDir);
      const admin = openPool(target, adminConfig(), "exchange-bench");
      return Promise.resolve({
        admin,
        // pgbench's tables go into the exchange's database, schema public, beside the exchange's.
        pgbench: target,
        postmaster: postmasterPid(dataDir),
        checkpoint: async () => {
          await admin.unsafe("CHECKPOINT");
        },
        detach: () => admin.end({ timeout: 5 }),
      });
    },
    async dispose() {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** SQLSTATE of "permission denied" (CHECKPOINT needs superuser or pg_checkpoint). */
const INSUFFICIENT_PRIVILEGE = "42501";

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Creates two fresh databases on the cluster of `url` (whose own database is only connected
 * to): one for the server, one for pgbench. `note` hears what the report should say, e.g. that
 * CHECKPOINT was refused.
 */
export async function externalDatabase(
  url: string,
  tag: string,
  note: (line: string) => void,
): Promise<BenchDatabase> {
  const admin = openPool({ kind: "url", url }, adminConfig(), "exchange-bench");
  const exchange = `exchange_bench_${tag}_${Deno.pid}`;
  const pgbench = `pgbench_bench_${tag}_${Deno.pid}`;
  const created: string[] = [];
  const drop = async () => {
    for (const name of created.splice(0)) {
      // FORCE: a backend left by a killed server must not keep the database alive.
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    }
  };
  try {
    for (const name of [exchange, pgbench]) {
      await admin.unsafe(`CREATE DATABASE ${quoteIdent(name)}`);
      created.push(name);
    }
  } catch (error) {
    await drop().catch(() => {});
    await admin.end({ timeout: 5 });
    throw new Error(
      `Cannot create the bench's databases on ${redactPasswords(url)}: ${(error as Error).message}`,
    );
  }
  let checkpointAllowed = true;
  return {
    kind: "external",
    description: `external PostgreSQL at ${
      redactPasswords(url)
    } (databases ${exchange} and ${pgbench})`,
    serverArgs: ["--database-url", withDatabase(url, exchange)],
    dataDir: undefined,
    attach() {
      return Promise.resolve({
        admin,
        pgbench: { kind: "url", url: withDatabase(url, pgbench) },
        // The cluster may serve others too: its CPU would not be ours alone, so none is read.
        postmaster: undefined,
        checkpoint: async () => {
          if (!checkpointAllowed) {
            return;
          }
          try {
            await admin.unsafe("CHECKPOINT");
          } catch (error) {
            if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) {
              throw error;
            }
            checkpointAllowed = false;
            note("CHECKPOINT was refused (not superuser nor pg_checkpoint): none between points.");
          }
        },
        // The admin connection outlives each server: it drops the databases at the end.
        detach: () => Promise.resolve(),
      });
    },
    async dispose() {
      try {
        await drop();
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}
