/**
 * Every tunable of the server in one place: limits, timeouts, pool size, retries.
 *
 * Each limit has a safe default, a command-line flag and an environment variable. The names
 * follow one rule: the qualifier goes last (`FRAME_BYTES_MAX`, `IDLE_TIMEOUT_MS`).
 */
import { parseArgs } from "node:util";

/** Limits that protect the server from hostile or broken clients and from itself. */
export interface Limits {
  /** Largest request payload accepted, in bytes (both framings). */
  frameBytesMax: number;
  /** Longest length line accepted in text framing, in digits. */
  lengthLineDigitsMax: number;
  /** Deepest element nesting accepted in a request document. */
  xmlDepthMax: number;
  /** Most operations (children, or `<account>` children of a `<symbol>`) in one request. */
  childrenPerRequestMax: number;
  /** Most attributes on a single element. */
  attributesPerElementMax: number;
  /** Connections served at once; further clients wait in the kernel's accept queue. */
  connectionsMax: number;
  /**
   * A frame must be complete this long after it started (else it is refused and the connection
   * closed); also the limit for a client silent since connecting or not reading its answers.
   */
  frameTimeoutMs: number;
  /** A connection with no partial frame and nothing in flight is closed after this long. */
  idleTimeoutMs: number;
}

/** Database settings. */
export interface DatabaseConfig {
  /** Use this PostgreSQL instead of the embedded one. */
  url: string | undefined;
  /** Where the embedded PostgreSQL keeps its cluster. */
  dataDir: string;
  /** Most connections this process opens; requests queue for a free one. */
  poolSize: number;
  /** Give up connecting to PostgreSQL after this long. */
  connectTimeoutMs: number;
  /** Give up waiting for a free pool connection after this long (the operation is unavailable). */
  acquireTimeoutMs: number;
  /** Abort a single statement that runs longer than this (PostgreSQL statement_timeout). */
  statementTimeoutMs: number;
  /** Abort a statement that waits longer than this for a lock (PostgreSQL lock_timeout). */
  lockTimeoutMs: number;
  /**
   * PostgreSQL ends a session idle inside a transaction this long (its locks are released):
   * a stalled server process cannot hold a book lock forever.
   */
  idleInTransactionTimeoutMs: number;
  /** How often a transaction hit by a deadlock or serialization failure is run again. */
  retriesMax: number;
  /** Start from an empty database: drops every table of the exchange first. */
  reset: boolean;
}

/** The HTTP side port: health, metrics, market data and the live order-book page. */
export interface HttpConfig {
  /** Port of the HTTP side port; 0 turns HTTP off. */
  port: number;
  /** Address it listens on; loopback by default (market data and metrics are not public). */
  host: string;
  /** Database connections of the HTTP side (market data, readiness), apart from the order pool. */
  poolSize: number;
  /** How often the live feed checks for a change of the watched books. */
  feedIntervalMs: number;
  /** Deepest book `/api/books/{sym}?depth=N` answers (price levels per side). */
  bookDepthMax: number;
  /** Most trades `/api/trades/{sym}?limit=N` answers. */
  tradesLimitMax: number;
  /**
   * Trades of a symbol are looked for among the exchange's newest this-many executions: the
   * schema has no per-symbol index on executions, so this bounds the cost of the read.
   */
  tradesScanRowsMax: number;
  /** Live-feed (server-sent events) subscribers at once, across all symbols. */
  feedSubscribersMax: number;
}

/** How the order engine and the status reader group operations (src/server/order_engine.ts). */
export interface EngineConfig {
  /** Most orders and cancels one batch (one transaction) takes from the books' queues. */
  batchOperationsMax: number;
  /** Batches (transactions) of the order engine running at once. */
  batchesInFlightMax: number;
  /** A further batch starts only once the running ones have waited this long for book locks. */
  batchLockWaitMs: number;
  /** Status statements (`<query>`s) running at once; more queries wait and share the next one. */
  statusStatementsMax: number;
  /** Most `<query>`s answered by one statement. */
  queriesPerStatementMax: number;
}

/** How the server logs. */
export interface LogConfig {
  /** `text`: human-readable lines; `json`: one JSON object per line. */
  format: "text" | "json";
  /** A request that takes longer than this gets a `slow_request` line. */
  slowMs: number;
  /** One line per answered request and per HTTP request. */
  accessLog: boolean;
}

/** Everything the server needs to start. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Server processes sharing the port through SO_REUSEPORT. */
  workers: number;
  /** How long shutdown waits for requests in flight before closing connections anyway. */
  shutdownGraceMs: number;
  limits: Limits;
  database: DatabaseConfig;
  engine: EngineConfig;
  http: HttpConfig;
  log: LogConfig;
}

/** Defaults, chosen to be safe for a small machine and documented in README.md. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  frameBytesMax: 1024 * 1024,
  lengthLineDigitsMax: 10,
  xmlDepthMax: 16,
  childrenPerRequestMax: 10_000,
  attributesPerElementMax: 16,
  connectionsMax: 1024,
  frameTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
});

export const PORT_DEFAULT = 12345;
export const DATA_DIR_DEFAULT = ".data";
export const POOL_SIZE_DEFAULT = 16;
export const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
export const ACQUIRE_TIMEOUT_MS_DEFAULT = 10_000;
export const STATEMENT_TIMEOUT_MS_DEFAULT = 10_000;
export const LOCK_TIMEOUT_MS_DEFAULT = 10_000;
export const IDLE_IN_TRANSACTION_TIMEOUT_MS_DEFAULT = 10_000;
export const RETRIES_MAX_DEFAULT = 5;
export const SHUTDOWN_GRACE_MS_DEFAULT = 10_000;
/** The HTTP side port's default: next to the exchange's 12345, rarely taken by anything else. */
export const HTTP_PORT_DEFAULT = 12380;
export const HTTP_HOST_DEFAULT = "127.0.0.1";
export const HTTP_POOL_SIZE_DEFAULT = 2;
export const FEED_INTERVAL_MS_DEFAULT = 250;
export const BOOK_DEPTH_MAX = 100;
export const TRADES_LIMIT_MAX = 200;
export const TRADES_SCAN_ROWS_MAX_DEFAULT = 10_000;
export const FEED_SUBSCRIBERS_MAX_DEFAULT = 256;
export const SLOW_MS_DEFAULT = 1_000;
/**
 * Batches are bounded so that one transaction's locks, statement parameters and answers stay
 * small: 128 operations are about 3000 parameters of exchange_apply_batch and a few ms of work.
 */
export const BATCH_OPERATIONS_MAX_DEFAULT = 128;
/**
 * At most two batches at once, and the second only while the first is stuck on a book lock held
 * by someone else (another process, an outside session) for more than BATCH_LOCK_WAIT_MS_DEFAULT:
 * one batch at a time made twice the batch size and 40% less CPU per order than two always in
 * flight (src/server/order_engine.ts), and a book lock is normally held for 2-3 ms.
 */
export const BATCHES_IN_FLIGHT_MAX_DEFAULT = 2;
export const BATCH_LOCK_WAIT_MS_DEFAULT = 5;
export const STATUS_STATEMENTS_MAX_DEFAULT = 4;
export const QUERIES_PER_STATEMENT_MAX_DEFAULT = 128;

/** One command-line option: its flag, its environment variable and how to read it. */
interface OptionSpec {
  flag: string;
  env: string;
  kind: "integer" | "string" | "boolean";
  help: string;
}

/** The options of `serve`, `audit` and `bench`, in the order the help text lists them. */
export const OPTIONS: readonly OptionSpec[] = [
  { flag: "host", env: "EXCHANGE_HOST", kind: "string", help: "address to listen on (0.0.0.0)" },
  { flag: "port", env: "EXCHANGE_PORT", kind: "integer", help: "TCP port (12345)" },
  {
    flag: "workers",
    env: "EXCHANGE_WORKERS",
    kind: "integer",
    help: "server processes sharing the port (1)",
  },
  {
    flag: "data-dir",
    env: "EXCHANGE_DATA_DIR",
    kind: "string",
    help: "embedded PostgreSQL location (.data)",
  },
  {
    flag: "database-url",
    env: "DATABASE_URL",
    kind: "string",
    help: "use this PostgreSQL instead of the embedded one",
  },
  {
    flag: "pool-size",
    env: "EXCHANGE_POOL_SIZE",
    kind: "integer",
    help: "database connections (16)",
  },
  {
    flag: "reset",
    env: "EXCHANGE_RESET",
    kind: "boolean",
    help: "start from an empty exchange (deletes all data)",
  },
  {
    flag: "frame-bytes-max",
    env: "EXCHANGE_FRAME_BYTES_MAX",
    kind: "integer",
    help: "largest request in bytes (1048576)",
  },
  {
    flag: "xml-depth-max",
    env: "EXCHANGE_XML_DEPTH_MAX",
    kind: "integer",
    help: "deepest element nesting (16)",
  },
  {
    flag: "children-per-request-max",
    env: "EXCHANGE_CHILDREN_PER_REQUEST_MAX",
    kind: "integer",
    help: "most operations per request (10000)",
  },
  {
    flag: "attributes-per-element-max",
    env: "EXCHANGE_ATTRIBUTES_PER_ELEMENT_MAX",
    kind: "integer",
    help: "most attributes on one element (16)",
  },
  {
    flag: "connections-max",
    env: "EXCHANGE_CONNECTIONS_MAX",
    kind: "integer",
    help: "connections served at once per process (1024)",
  },
  {
    flag: "frame-timeout-ms",
    env: "EXCHANGE_FRAME_TIMEOUT_MS",
    kind: "integer",
    help: "close a client stalled mid-frame after this (10000)",
  },
  {
    flag: "idle-timeout-ms",
    env: "EXCHANGE_IDLE_TIMEOUT_MS",
    kind: "integer",
    help: "close an idle connection after this (60000)",
  },
  {
    flag: "connect-timeout-ms",
    env: "EXCHANGE_CONNECT_TIMEOUT_MS",
    kind: "integer",
    help: "database connect timeout (5000)",
  },
  {
    flag: "acquire-timeout-ms",
    env: "EXCHANGE_ACQUIRE_TIMEOUT_MS",
    kind: "integer",
    help: "wait for a free pool connection at most this (10000)",
  },
  {
    flag: "statement-timeout-ms",
    env: "EXCHANGE_STATEMENT_TIMEOUT_MS",
    kind: "integer",
    help: "abort a statement running longer (10000)",
  },
  {
    flag: "lock-timeout-ms",
    env: "EXCHANGE_LOCK_TIMEOUT_MS",
    kind: "integer",
    help: "abort a statement waiting longer for a lock (10000)",
  },
  {
    flag: "idle-in-transaction-timeout-ms",
    env: "EXCHANGE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    kind: "integer",
    help: "end a session idle in a transaction this long (10000)",
  },
  {
    flag: "retries-max",
    env: "EXCHANGE_RETRIES_MAX",
    kind: "integer",
    help: "reruns after deadlock/serialization failure (5)",
  },
  {
    flag: "shutdown-grace-ms",
    env: "EXCHANGE_SHUTDOWN_GRACE_MS",
    kind: "integer",
    help: "wait for requests in flight on shutdown (10000)",
  },
  {
    flag: "batch-operations-max",
    env: "EXCHANGE_BATCH_OPERATIONS_MAX",
    kind: "integer",
    help: `orders and cancels per transaction (${BATCH_OPERATIONS_MAX_DEFAULT})`,
  },
  {
    flag: "batches-in-flight-max",
    env: "EXCHANGE_BATCHES_IN_FLIGHT_MAX",
    kind: "integer",
    help: `order-engine transactions running at once (${BATCHES_IN_FLIGHT_MAX_DEFAULT})`,
  },
  {
    flag: "batch-lock-wait-ms",
    env: "EXCHANGE_BATCH_LOCK_WAIT_MS",
    kind: "integer",
    help:
      `a batch waiting this long for book locks lets another start (${BATCH_LOCK_WAIT_MS_DEFAULT})`,
  },
  {
    flag: "status-statements-max",
    env: "EXCHANGE_STATUS_STATEMENTS_MAX",
    kind: "integer",
    help: `query statements running at once (${STATUS_STATEMENTS_MAX_DEFAULT})`,
  },
  {
    flag: "queries-per-statement-max",
    env: "EXCHANGE_QUERIES_PER_STATEMENT_MAX",
    kind: "integer",
    help: `queries answered by one statement (${QUERIES_PER_STATEMENT_MAX_DEFAULT})`,
  },
  {
    flag: "http-port",
    env: "EXCHANGE_HTTP_PORT",
    kind: "integer",
    help: `HTTP side port: metrics, health, market data, page; 0 = off (${HTTP_PORT_DEFAULT})`,
  },
  {
    flag: "http-host",
    env: "EXCHANGE_HTTP_HOST",
    kind: "string",
    help: `address of the HTTP side port (${HTTP_HOST_DEFAULT})`,
  },
  {
    flag: "http-pool-size",
    env: "EXCHANGE_HTTP_POOL_SIZE",
    kind: "integer",
    help: `database connections of the HTTP side (${HTTP_POOL_SIZE_DEFAULT})`,
  },
  {
    flag: "feed-interval-ms",
    env: "EXCHANGE_FEED_INTERVAL_MS",
    kind: "integer",
    help: `how often the live feed looks for book changes (${FEED_INTERVAL_MS_DEFAULT})`,
  },
  {
    flag: "trades-scan-rows-max",
    env: "EXCHANGE_TRADES_SCAN_ROWS_MAX",
    kind: "integer",
    help: `newest executions searched for a symbol's trades (${TRADES_SCAN_ROWS_MAX_DEFAULT})`,
  },
  {
    flag: "feed-subscribers-max",
    env: "EXCHANGE_FEED_SUBSCRIBERS_MAX",
    kind: "integer",
    help: `live-feed subscribers at once (${FEED_SUBSCRIBERS_MAX_DEFAULT})`,
  },
  {
    flag: "log-format",
    env: "EXCHANGE_LOG_FORMAT",
    kind: "string",
    help: "text or json (text)",
  },
  {
    flag: "slow-ms",
    env: "EXCHANGE_SLOW_MS",
    kind: "integer",
    help: `log a request slower than this (${SLOW_MS_DEFAULT})`,
  },
  {
    flag: "access-log",
    env: "EXCHANGE_ACCESS_LOG",
    kind: "boolean",
    help: "log one line per request (TCP and HTTP)",
  },
];

/** The help text for every option, one per line. */
export function optionsHelp(): string {
  return OPTIONS.map((o) => {
    const value = o.kind === "boolean" ? "" : o.kind === "integer" ? " N" : " VALUE";
    return `  --${o.flag}${value}`.padEnd(36) + `${o.help} [env ${o.env}]`;
  }).join("\n");
}

type RawOptions = Map<string, string | boolean>;

/** Reads flags, falling back to environment variables; flags win. */
export function readOptions(
  args: readonly string[],
  env: (name: string) => string | undefined,
  extra: Record<string, { type: "string" | "boolean" }> = {},
): { values: RawOptions; extra: Record<string, string | boolean | undefined> } {
  const specs: Record<string, { type: "string" | "boolean" }> = { ...extra };
  for (const option of OPTIONS) {
    specs[option.flag] = { type: option.kind === "boolean" ? "boolean" : "string" };
  }
  specs["help"] = { type: "boolean" };
  const parsed = parseArgs({
    args: [...args],
    options: specs,
    strict: true,
    allowPositionals: false,
  });
  const values: RawOptions = new Map();
  for (const option of OPTIONS) {
    const fromFlag = parsed.values[option.flag];
    const fromEnv = env(option.env);
    if (fromFlag !== undefined) {
      values.set(option.flag, fromFlag);
    } else if (fromEnv !== undefined && fromEnv !== "") {
      values.set(
        option.flag,
        option.kind === "boolean" ? envBoolean(option.env, fromEnv) : fromEnv,
      );
    }
  }
  const extraValues: Record<string, string | boolean | undefined> = {};
  for (const name of Object.keys(extra)) {
    extraValues[name] = parsed.values[name];
  }
  if (parsed.values["help"] === true) {
    values.set("help", true);
  }
  return { values, extra: extraValues };
}

/** Thrown for an option that is missing, malformed or out of range. */
export class ConfigError extends RangeError {
  override name = "ConfigError";
}

const ENV_TRUE = new Set(["1", "true", "yes"]);
const ENV_FALSE = new Set(["0", "false", "no"]);

/**
 * A boolean from the environment: exactly 1/true/yes or 0/false/no, in any case. Anything else
 * (`off`, a typo) is an error: guessing could turn `EXCHANGE_RESET=no` into deleting the data.
 */
export function envBoolean(name: string, raw: string): boolean {
  const value = raw.toLowerCase();
  if (ENV_TRUE.has(value)) {
    return true;
  }
  if (ENV_FALSE.has(value)) {
    return false;
  }
  throw new ConfigError(
    `Environment variable ${name} must be 1, true, yes, 0, false or no, got ${JSON.stringify(raw)}`,
  );
}

function integer(
  values: RawOptions,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = values.get(flag);
  if (raw === undefined) {
    return fallback;
  }
  if (typeof raw !== "string" || !/^[0-9]+$/.test(raw)) {
    throw new ConfigError(`Option --${flag} must be a whole number, got ${JSON.stringify(raw)}`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`Option --${flag} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function text(values: RawOptions, flag: string): string | undefined {
  const raw = values.get(flag);
  return typeof raw === "string" ? raw : undefined;
}

function oneOf<T extends string>(
  values: RawOptions,
  flag: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = text(values, flag);
  if (raw === undefined) {
    return fallback;
  }
  const choice = choices.find((c) => c === raw);
  if (choice === undefined) {
    throw new ConfigError(
      `Option --${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`,
    );
  }
  return choice;
}

/** Builds the full configuration from parsed options, validating every range. */
export function buildConfig(values: RawOptions, cpuCount: number): ServerConfig {
  const d = DEFAULT_LIMITS;
  return {
    host: text(values, "host") ?? "0.0.0.0",
    port: integer(values, "port", PORT_DEFAULT, 0, 65535),
    workers: integer(values, "workers", 1, 1, Math.max(64, cpuCount)),
    shutdownGraceMs: integer(values, "shutdown-grace-ms", SHUTDOWN_GRACE_MS_DEFAULT, 0, 600_000),
    limits: {
      frameBytesMax: integer(values, "frame-bytes-max", d.frameBytesMax, 1, 256 * 1024 * 1024),
      lengthLineDigitsMax: d.lengthLineDigitsMax,
      xmlDepthMax: integer(values, "xml-depth-max", d.xmlDepthMax, 3, 256),
      childrenPerRequestMax: integer(
        values,
        "children-per-request-max",
        d.childrenPerRequestMax,
        1,
        1_000_000,
      ),
      attributesPerElementMax: integer(
        values,
        "attributes-per-element-max",
        d.attributesPerElementMax,
        3,
        1024,
      ),
      connectionsMax: integer(values, "connections-max", d.connectionsMax, 1, 1_000_000),
      frameTimeoutMs: integer(values, "frame-timeout-ms", d.frameTimeoutMs, 1, 3_600_000),
      idleTimeoutMs: integer(values, "idle-timeout-ms", d.idleTimeoutMs, 1, 86_400_000),
    },
    database: {
      url: text(values, "database-url"),
      dataDir: text(values, "data-dir") ?? DATA_DIR_DEFAULT,
      poolSize: integer(values, "pool-size", POOL_SIZE_DEFAULT, 1, 1000),
      connectTimeoutMs: integer(
        values,
        "connect-timeout-ms",
        CONNECT_TIMEOUT_MS_DEFAULT,
        1,
        600_000,
      ),
      acquireTimeoutMs: integer(
        values,
        "acquire-timeout-ms",
        ACQUIRE_TIMEOUT_MS_DEFAULT,
        1,
        3_600_000,
      ),
      statementTimeoutMs: integer(
        values,
        "statement-timeout-ms",
        STATEMENT_TIMEOUT_MS_DEFAULT,
        1,
        3_600_000,
      ),
      lockTimeoutMs: integer(values, "lock-timeout-ms", LOCK_TIMEOUT_MS_DEFAULT, 1, 3_600_000),
      idleInTransactionTimeoutMs: integer(
        values,
        "idle-in-transaction-timeout-ms",
        IDLE_IN_TRANSACTION_TIMEOUT_MS_DEFAULT,
        1,
        3_600_000,
      ),
      retriesMax: integer(values, "retries-max", RETRIES_MAX_DEFAULT, 0, 100),
      reset: values.get("reset") === true,
    },
    engine: {
      batchOperationsMax: integer(
        values,
        "batch-operations-max",
        BATCH_OPERATIONS_MAX_DEFAULT,
        1,
        10_000,
      ),
      batchesInFlightMax: integer(
        values,
        "batches-in-flight-max",
        BATCHES_IN_FLIGHT_MAX_DEFAULT,
        1,
        1000,
      ),
      batchLockWaitMs: integer(
        values,
        "batch-lock-wait-ms",
        BATCH_LOCK_WAIT_MS_DEFAULT,
        0,
        60_000,
      ),
      statusStatementsMax: integer(
        values,
        "status-statements-max",
        STATUS_STATEMENTS_MAX_DEFAULT,
        1,
        1000,
      ),
      queriesPerStatementMax: integer(
        values,
        "queries-per-statement-max",
        QUERIES_PER_STATEMENT_MAX_DEFAULT,
        1,
        10_000,
      ),
    },
    http: {
      port: integer(values, "http-port", HTTP_PORT_DEFAULT, 0, 65535),
      host: text(values, "http-host") ?? HTTP_HOST_DEFAULT,
      poolSize: integer(values, "http-pool-size", HTTP_POOL_SIZE_DEFAULT, 1, 100),
      feedIntervalMs: integer(values, "feed-interval-ms", FEED_INTERVAL_MS_DEFAULT, 10, 60_000),
      bookDepthMax: BOOK_DEPTH_MAX,
      tradesLimitMax: TRADES_LIMIT_MAX,
      tradesScanRowsMax: integer(
        values,
        "trades-scan-rows-max",
        TRADES_SCAN_ROWS_MAX_DEFAULT,
        1,
        10_000_000,
      ),
      feedSubscribersMax: integer(
        values,
        "feed-subscribers-max",
        FEED_SUBSCRIBERS_MAX_DEFAULT,
        1,
        100_000,
      ),
    },
    log: {
      format: oneOf(values, "log-format", ["text", "json"] as const, "text"),
      slowMs: integer(values, "slow-ms", SLOW_MS_DEFAULT, 0, 3_600_000),
      accessLog: values.get("access-log") === true,
    },
  };
}
