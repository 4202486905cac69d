/**
 * The one bounded connection pool of a server process, plus where it came from.
 *
 * postgres.js keeps at most `max` connections and queues queries beyond that, so the server
 * never opens more connections than configured however many clients arrive.
 */
import postgres from "postgres";
import type { DatabaseConfig } from "../config.ts";
import { EmbeddedPostgres } from "./embedded_postgres.ts";
import { clusterTarget, type SocketTarget } from "./embedded_target.ts";

/** The schema holding every table of the exchange; `--reset` drops it whole. */
export const SCHEMA = "exchange";

export type Sql = postgres.Sql;
export type ReservedSql = postgres.ReservedSql;

/** A pool and its settings. */
export interface Database {
  readonly sql: Sql;
  /** Where the data lives, for the start-up line ("embedded PostgreSQL in .data"). */
  readonly description: string;
  /** The embedded cluster, when this process started one. */
  readonly embedded: EmbeddedPostgres | undefined;
  readonly retriesMax: number;
  /** Longest wait for a free pool connection ({@link reserveConnection}). */
  readonly acquireTimeoutMs: number;
  /**
   * Closes every pool connection now, abandoning the work on them: PostgreSQL rolls back their
   * transactions, and what is still queued fails as unavailable. For the end of a shutdown grace.
   */
  abandon(): Promise<void>;
  /** Closes the pool (and stops the embedded cluster if this process owns it). */
  close(options?: { stopEmbedded?: boolean }): Promise<void>;
}

/** No pool connection became free within the acquire timeout. */
export class AcquireTimeoutError extends Error {
  override name = "AcquireTimeoutError";
  /** Classified as unavailable by errors.ts, like the driver's own connection codes. */
  readonly code = "ACQUIRE_TIMEOUT";
}

/**
 * A reservation not granted after this long is asked for a second time. postgres.js 3.4.7 (and
 * 3.4.9) loses a reservation that waits in its queue while a pool connection closes: the closing
 * connection takes it, reconnects, and never hands it over (index.js `onclose` passes it to
 * `connect(c, query)`; the reconnect's ReadyForQuery drops a reserve request). Reproduced with a
 * reserved connection whose backend was terminated: the next reservation hung in 7 of 15 tries,
 * and the batch tests' killed-batch case then waited out the acquire timeout now and then. The
 * second request, made after the close, is served normally; the first grant wins and the other
 * is given back. Under a busy pool a waiter only queues twice.
 */
const RESERVE_RETRY_MS = 250;

/**
 * Reserves a pool connection for a transaction, waiting at most `db.acquireTimeoutMs`
 * (postgres.js's `reserve()` would wait in its queue forever). A reservation granted after the
 * timeout is released at once.
 */
export async function reserveConnection(db: Database): Promise<ReservedSql> {
  const requests = [db.sql.reserve()];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AcquireTimeoutError(
            `No database connection became free within ${db.acquireTimeoutMs} ms`,
          ),
        ),
      db.acquireTimeoutMs,
    );
  });
  // Asked for once more after a while: see RESERVE_RETRY_MS.
  const retried = new Promise<ReservedSql>((resolve, reject) => {
    retryTimer = setTimeout(() => {
      const again = db.sql.reserve();
      requests.push(again);
      again.then(resolve, reject);
    }, RESERVE_RETRY_MS);
  });
  try {
    const granted = await Promise.race([requests[0]!, retried, expired]);
    // The other request, if any, is given back as soon as it is granted.
    for (const request of requests) {
      request.then((tx) => tx !== granted && tx.release(), () => {});
    }
    return granted;
  } catch (error) {
    // postgres.js cannot take a request back out of its queue: give the connection back
    // as soon as it is granted (or observe the failure, so that nothing goes unhandled).
    for (const request of requests) {
      request.then((tx) => tx.release(), () => {});
    }
    throw error;
  } finally {
    clearTimeout(timer);
    clearTimeout(retryTimer);
  }
}

/** Connection target: a URL, or an embedded cluster's socket. */
export type Target = { kind: "url"; url: string } | SocketTarget;

/** Opens a pool to `target`, with `search_path` set to the exchange schema. */
export function openPool(target: Target, config: DatabaseConfig, applicationName: string): Sql {
  const options = {
    max: config.poolSize,
    connect_timeout: Math.max(1, Math.ceil(config.connectTimeoutMs / 1000)),
    // Pool connections stay open; the pool is bounded by `max`. postgres.js 3.4.7 reopens a
    // connection that closed on its own (idle timeout, or the default lifetime of 30-60 min)
    // with setTimeout(connect, closedAt + backoff - now): negative once the connection has been
    // closed longer than its backoff, which Deno reports as a TimeoutNegativeWarning in the
    // server's log (fixed upstream in 3.4.8 with Math.max(0, ...)). Connections that never
    // close on their own never take that path in normal operation.
    idle_timeout: 0, // 0: no timer (postgres.js)
    max_lifetime: 0,
    onnotice: () => {},
    connection: {
      application_name: applicationName,
      search_path: SCHEMA,
      statement_timeout: config.statementTimeoutMs,
      lock_timeout: config.lockTimeoutMs,
      idle_in_transaction_session_timeout: config.idleInTransactionTimeoutMs,
      // Every statement of the exchange is a keyed lookup or write whose best plan does not
      // depend on the values, so plan once per connection. With the default ("auto") PostgreSQL
      // kept re-planning the statements inside the apply function on every call: planning was
      // about 8% of PostgreSQL's CPU per order (perf); forcing generic plans cut PostgreSQL CPU
      // per order by about 10% (three interleaved A/B runs, 16 binary clients).
      plan_cache_mode: "force_generic_plan",
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
    const sql = openPool({ kind: "url", url: config.url }, config, options.applicationName);
    return makeDatabase(sql, `PostgreSQL at ${redactUrl(config.url)}`, undefined, config);
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
  const sql = openPool(target, config, options.applicationName);
  const where = embedded.location.relocated
    ? `${embedded.location.home} (for ${config.dataDir})`
    : config.dataDir;
  return makeDatabase(sql, `embedded PostgreSQL 18 in ${where}`, embedded, config);
}

/**
 * A {@link Database} over an open pool; `close()` also stops `embedded` when given (the process
 * that started a cluster owns it).
 */
export function makeDatabase(
  sql: Sql,
  description: string,
  embedded: EmbeddedPostgres | undefined,
  config: DatabaseConfig,
): Database {
  return {
    sql,
    description,
    embedded,
    retriesMax: config.retriesMax,
    acquireTimeoutMs: config.acquireTimeoutMs,
    async abandon() {
      await sql.end({ timeout: 0 });
    },
    async close(closeOptions = {}) {
      await sql.end({ timeout: 5 });
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
