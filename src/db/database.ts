/**
 * Opening the database of a server process: its bounded pool of leased connections (the server
 * never opens more than `--pool-size` however many clients arrive), a lazy pool for tools, the
 * embedded cluster when no URL is given, and every session setting in one place.
 */
import postgres from "postgres";
import type { DatabaseConfig } from "../config.ts";
import { AcquireTimeoutError, ConnectionPool } from "./connection_pool.ts";
import { SessionProbe } from "./session_probe.ts";
import { EmbeddedPostgres } from "./embedded_postgres.ts";
import { clusterTarget, type SocketTarget } from "./embedded_target.ts";

/** The schema holding every table of the exchange; `--reset` drops it whole. */
export const SCHEMA = "exchange";

export type Sql = postgres.Sql;
/** A connection of the tools pool reserved whole (tests hold locks with it). */
export type ReservedSql = postgres.ReservedSql;

/**
 * The database of a server process: the order path's leased connections, plus where it came from.
 *
 * Two kinds of connection, kept apart on purpose:
 * - `pool`: the server's own bounded pool of single-connection leases (connection_pool.ts). Every
 *   transaction and every read the server makes for a client runs on it, with a deadline.
 * - `sql`: a plain postgres.js pool for tools and tests (audits, fixtures, migrations' callers),
 *   which connects lazily: a server process that never uses it opens no connection for it.
 */
export interface Database {
  readonly pool: ConnectionPool;
  readonly sql: Sql;
  /** Where the data lives, for the start-up line ("embedded PostgreSQL in .data"). */
  readonly description: string;
  /** The embedded cluster, when this process started one. */
  readonly embedded: EmbeddedPostgres | undefined;
  readonly retriesMax: number;
  /** Longest wait for a free pool connection. */
  readonly acquireTimeoutMs: number;
  /** Longest an operation may take in all, from reaching the database layer to its answer. */
  readonly operationTimeoutMs: number;
  /** The part of `operationTimeoutMs` kept for finding out what an unanswered COMMIT did. */
  readonly commitResolveMs: number;
  /**
   * Closes every pool connection now, abandoning the work on them: PostgreSQL rolls back their
   * transactions, and what is still queued fails as unavailable. For the end of a shutdown grace.
   */
  abandon(): Promise<void>;
  /** Closes the pool (and stops the embedded cluster if this process owns it). */
  close(options?: { stopEmbedded?: boolean }): Promise<void>;
}

export { AcquireTimeoutError };

/** Connection target: a URL, or an embedded cluster's socket. */
export type Target = { kind: "url"; url: string } | SocketTarget;

/**
 * How often an idle-looking backend checks that its client is still there while it runs a
 * statement or waits for a lock (PostgreSQL 14+, `client_connection_check_interval`): a backend
 * whose client went away (a destroyed connection, a crashed server process) stops within this
 * long instead of holding its book locks until a timeout.
 */
const CLIENT_CHECK_INTERVAL_MS = 1000;

/** How a pool of the server process differs from a tools pool. */
export interface PoolRole {
  /** The driver's close event of each connection (the leased pool's one source of truth). */
  onclose?: () => void;
  /**
   * Fetch the server's array types on connect (postgres.js `fetch_types`). Off in the server
   * process: see pg_array.ts (an unawaited driver query that could end the process when a
   * backend was terminated while it ran); its statements send arrays as literals. On for tools
   * and tests, which pass JavaScript arrays, and because postgres.js 3.4.9 never grants a
   * `reserve()` made on a fresh connection without it (its ReadyForQuery path drops the request).
   */
  fetchTypes?: boolean;
  /**
   * Every statement of this pool is a keyed lookup or write (the order path, the book feed):
   * plan them with {@link KEYED_ONLY_PLANNER}. Not for the tools pool, whose audit sums whole
   * tables.
   */
  keyedOnly?: boolean;
}

/**
 * Planner settings of the pools whose statements are all keyed lookups and writes.
 *
 * Their plans are generic (`plan_cache_mode` above) and made once, on the first call of each
 * statement in each session: on a fresh exchange, when the tables are nearly empty and a
 * sequential scan is the cheapest plan. PostgreSQL plans again only when a table's statistics
 * change (a vacuum or analyze), which with default settings (`autovacuum_naptime` 60 s) comes a
 * minute or more later. Measured on PostgreSQL 15 with default settings, 16 binary clients, 4
 * symbols, pg_stat_statements per 10 s: the apply function's UPDATE of the filled orders ran as
 * a Seq Scan + Hash Join planned for 16 rows and went from 2.0 to 8.5 ms per batch (73 to 254
 * buffers) within 40 s as `orders` grew; the whole apply call from 3.5 to 16.6 ms, and orders/s
 * fell by half until autovacuum came. With sequential scans off the UPDATE stayed at 0.25 ms
 * (61-67 buffers) and the apply call at 2.0-2.2 ms over the same minute. A table with no index
 * for a statement is still scanned (the setting only prices scans out where an index applies).
 *
 * JIT off: that price (1e10) also lifts plans with an unavoidable scan (round trip 1 reads the
 * `order_ids` sequence) past every JIT threshold, and each call then compiled its plan with LLVM
 * for 250 ms (EXPLAIN ANALYZE; orders fell to 45/s). JIT is for long analytic queries, which
 * these pools never run.
 */
const KEYED_ONLY_PLANNER = { enable_seqscan: "off", jit: "off" } as const;

/** Longest wait for the session probe's answer (session_probe.ts). */
const PROBE_TIMEOUT_MS = 1_000;

/** Opens a pool to `target`, with `search_path` set to the exchange schema. */
export function openPool(
  target: Target,
  config: DatabaseConfig,
  applicationName: string,
  role: PoolRole = {},
): Sql {
  const options = {
    max: config.poolSize,
    fetch_types: role.fetchTypes ?? true,
    ...(role.onclose === undefined ? {} : { onclose: role.onclose }),
    connect_timeout: Math.max(1, Math.ceil(config.connectTimeoutMs / 1000)),
    // Pool connections stay open; the pool is bounded by `max`. (postgres.js before 3.4.8
    // reopened a connection that closed on its own with a negative timer, a
    // TimeoutNegativeWarning in the log; the leased pool never lets the driver reconnect.)
    idle_timeout: 0, // 0: no timer (postgres.js)
    max_lifetime: 0,
    onnotice: () => {},
    connection: {
      application_name: applicationName,
      search_path: SCHEMA,
      statement_timeout: config.statementTimeoutMs,
      lock_timeout: config.lockTimeoutMs,
      idle_in_transaction_session_timeout: config.idleInTransactionTimeoutMs,
      client_connection_check_interval: CLIENT_CHECK_INTERVAL_MS,
      // Every statement of the exchange is a keyed lookup or write whose best plan does not
      // depend on the values, so plan once per connection. With the default ("auto") PostgreSQL
      // kept re-planning the statements inside the apply function on every call: planning was
      // about 8% of PostgreSQL's CPU per order (perf); forcing generic plans cut PostgreSQL CPU
      // per order by about 10% (three interleaved A/B runs, 16 binary clients).
      plan_cache_mode: "force_generic_plan",
      ...(role.keyedOnly === true ? KEYED_ONLY_PLANNER : {}),
    },
  };
  if (target.kind === "url") {
    const socket = socketFromUrl(target.url);
    if (socket !== undefined) {
      return postgres(socket.url, { ...options, host: socket.dir, path: socket.path });
    }
    return postgres(target.url, options);
  }
  return postgres({
    ...options,
    host: target.socketDir,
    path: `${target.socketDir}/.s.PGSQL.${target.port}`,
    port: target.port,
    username: target.user,
    database: target.database,
  });
}

/**
 * libpq's way to name a Unix socket in a URL, `postgres://user@localhost/db?host=/run/dir`,
 * which postgres.js does not read from URLs: returns the directory, the socket file and the URL
 * without the `host` parameter.
 */
function socketFromUrl(url: string): { url: string; dir: string; path: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const dir = parsed.searchParams.get("host");
  if (dir === null || !dir.startsWith("/")) {
    return undefined;
  }
  parsed.searchParams.delete("host");
  const port = parsed.port === "" ? "5432" : parsed.port;
  return { url: parsed.toString(), dir, path: `${dir}/.s.PGSQL.${port}` };
}

/** Starts the embedded cluster if no URL was given, creates the database, opens the pool. */
export async function openDatabase(
  config: DatabaseConfig,
  options: {
    applicationName: string;
    log?: (line: string) => void;
    settings?: Record<string, string>;
  },
): Promise<Database> {
  if (config.url !== undefined) {
    return makeDatabase(
      { kind: "url", url: config.url },
      config,
      options.applicationName,
      `PostgreSQL at ${redactUrl(config.url)}`,
      undefined,
    );
  }
  const embedded = await EmbeddedPostgres.start({
    dataDir: config.dataDir,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });
  const target = clusterTarget(embedded.location);
  try {
    await ensureDatabase(clusterTarget(embedded.location, "postgres"), target.database, config);
  } catch (error) {
    // Leave no PostgreSQL behind that this process started.
    if (!embedded.adoptedRunningServer) {
      await embedded.stop();
    }
    throw error;
  }
  const where = embedded.location.relocated
    ? `${embedded.location.home} (for ${config.dataDir})`
    : config.dataDir;
  return makeDatabase(
    target,
    config,
    options.applicationName,
    `embedded PostgreSQL 18 in ${where}`,
    embedded,
  );
}

/**
 * A {@link Database} on `target`: the server's leased pool and a lazy tools pool; `close()` also
 * stops `embedded` when given (the process that started a cluster owns it).
 */
export function makeDatabase(
  target: Target,
  config: DatabaseConfig,
  applicationName: string,
  description: string,
  embedded: EmbeddedPostgres | undefined,
): Database {
  const sql = openPool(target, config, `${applicationName}-tools`);
  const single = { ...config, poolSize: 1 };
  const probe = new SessionProbe(
    () => openPool(target, single, `${applicationName}-probe`, { fetchTypes: false }),
    PROBE_TIMEOUT_MS,
  );
  const pool = new ConnectionPool({
    size: config.poolSize,
    name: applicationName,
    probe,
    open: (onClose, sessionName) =>
      openPool(target, single, sessionName, {
        onclose: onClose,
        fetchTypes: false,
        keyedOnly: true,
      }),
  });
  return {
    pool,
    sql,
    description,
    embedded,
    retriesMax: config.retriesMax,
    acquireTimeoutMs: config.acquireTimeoutMs,
    operationTimeoutMs: config.operationTimeoutMs,
    commitResolveMs: config.commitResolveMs,
    async abandon() {
      await Promise.all([pool.abandon(), sql.end({ timeout: 0 }), probe.end()]);
    },
    async close(closeOptions = {}) {
      await Promise.all([pool.end(5), sql.end({ timeout: 5 }), probe.end()]);
      if (embedded !== undefined && closeOptions.stopEmbedded !== false) {
        await embedded.stop();
      }
    },
  };
}

/** Creates `name` on the cluster unless it exists. */
export async function ensureDatabase(
  admin: Omit<SocketTarget, "kind">,
  name: string,
  config: DatabaseConfig,
): Promise<void> {
  const sql = openPool({ kind: "socket", ...admin }, { ...config, poolSize: 1 }, "exchange-setup");
  try {
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (found.length === 0) {
      try {
        await sql.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      } catch (error) {
        // Another worker process created it first.
        if ((error as { code?: string }).code !== "42P04") {
          throw error;
        }
      }
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") {
      parsed.password = "***";
    }
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
