/**
 * Every tunable of the server in one place: limits, timeouts, pool size, retries.
 *
 * The configuration's types and how it is built from flags and the environment. Each option's
 * flag, variable, default, range and help are in src/option_specs.ts (one entry per option);
 * names follow one rule: the qualifier goes last (`FRAME_BYTES_MAX`, `IDLE_TIMEOUT_MS`).
 * About 300 lines: half of them are the configuration's documented types.
 */
import { parseArgs } from "node:util";
import {
  type BooleanOption,
  type ChoiceOption,
  type IntegerOption,
  OPTION,
  optionMax,
  OPTIONS,
  type TextOption,
} from "./option_specs.ts";

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
   * Requests of one connection running at once (pipelined orders, in order; see
   * src/server/request_handler_stream.ts).
   */
  connectionRequestsMax: number;
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
  /** Longest an operation may wait for the database in all (its answer comes by then). */
  operationTimeoutMs: number;
  /** The last part of `operationTimeoutMs`, kept for resolving a COMMIT whose answer was lost. */
  commitResolveMs: number;
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
  /** Most trades `/api/candles/{sym}?limit=N` sums into per-second candles. */
  candleTradesMax: number;
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
  /** Resting orders one batch may fill before its later operations wait for the next batch. */
  batchRowsMax: number;
  /** Batches (transactions) of the order engine running at once. */
  batchesInFlightMax: number;
  /** A further batch starts only once the running ones have waited this long for book locks. */
  batchLockWaitMs: number;
  /** ...or once their attempts have taken this long, waiting or not. */
  batchLongMs: number;
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

/** Longest length line accepted in text framing: ten digits hold any length up to the max. */
const LENGTH_LINE_DIGITS_MAX = 10;
/** Deepest book the HTTP side answers (price levels per side); not an option. */
const BOOK_DEPTH_MAX = 100;
/** Most trades the HTTP side answers at once; not an option. */
const TRADES_LIMIT_MAX = 200;
/**
 * Most trades the HTTP side sums into candles at once; not an option. A candle is about 100
 * bytes of JSON, so the largest answer stays near 100 kB.
 */
const CANDLE_TRADES_MAX = 1_000;

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

/** The value of an integer option: its default when absent, else a whole number in range. */
function integer(values: RawOptions, option: IntegerOption, cpuCount: number): number {
  const raw = values.get(option.flag);
  if (raw === undefined) {
    return option.default;
  }
  if (typeof raw !== "string" || !/^[0-9]+$/.test(raw)) {
    throw new ConfigError(
      `Option --${option.flag} must be a whole number, got ${JSON.stringify(raw)}`,
    );
  }
  const value = Number(raw);
  const max = optionMax(option, cpuCount);
  if (value < option.min || value > max) {
    throw new ConfigError(
      `Option --${option.flag} must be between ${option.min} and ${max}, got ${value}`,
    );
  }
  return value;
}

/** Reads a text option whose default is a value. */
function text(values: RawOptions, option: TextOption & { default: string }): string;
/** Reads a text option that may be unset. */
function text(values: RawOptions, option: TextOption): string | undefined;
function text(values: RawOptions, option: TextOption): string | undefined {
  const raw = values.get(option.flag);
  return typeof raw === "string" ? raw : option.default;
}

function choice<T extends string>(values: RawOptions, option: ChoiceOption<T>): T {
  const raw = values.get(option.flag);
  if (raw === undefined) {
    return option.default;
  }
  const chosen = option.choices.find((c) => c === raw);
  if (chosen === undefined) {
    throw new ConfigError(
      `Option --${option.flag} must be one of ${option.choices.join(", ")}, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return chosen;
}

function flag(values: RawOptions, option: BooleanOption): boolean {
  return values.get(option.flag) === true;
}

/** The limits with every option at its default. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(buildConfig(new Map(), 1).limits);

/** Builds the full configuration from parsed options, validating every range. */
export function buildConfig(values: RawOptions, cpuCount: number): ServerConfig {
  const int = (option: IntegerOption) => integer(values, option, cpuCount);
  const o = OPTION;
  return {
    host: text(values, o.host),
    port: int(o.port),
    workers: int(o.workers),
    shutdownGraceMs: int(o.shutdownGraceMs),
    limits: {
      frameBytesMax: int(o.frameBytesMax),
      lengthLineDigitsMax: LENGTH_LINE_DIGITS_MAX,
      xmlDepthMax: int(o.xmlDepthMax),
      childrenPerRequestMax: int(o.childrenPerRequestMax),
      attributesPerElementMax: int(o.attributesPerElementMax),
      connectionsMax: int(o.connectionsMax),
      connectionRequestsMax: int(o.connectionRequestsMax),
      frameTimeoutMs: int(o.frameTimeoutMs),
      idleTimeoutMs: int(o.idleTimeoutMs),
    },
    database: {
      url: text(values, o.databaseUrl),
      dataDir: text(values, o.dataDir),
      poolSize: int(o.poolSize),
      connectTimeoutMs: int(o.connectTimeoutMs),
      acquireTimeoutMs: int(o.acquireTimeoutMs),
      statementTimeoutMs: int(o.statementTimeoutMs),
      lockTimeoutMs: int(o.lockTimeoutMs),
      idleInTransactionTimeoutMs: int(o.idleInTransactionTimeoutMs),
      operationTimeoutMs: int(o.operationTimeoutMs),
      // The reserve is the last part of the operation's time: at most half of it.
      commitResolveMs: Math.min(int(o.commitResolveMs), Math.floor(int(o.operationTimeoutMs) / 2)),
      retriesMax: int(o.retriesMax),
      reset: flag(values, o.reset),
    },
    engine: {
      batchOperationsMax: int(o.batchOperationsMax),
      batchRowsMax: int(o.batchRowsMax),
      batchesInFlightMax: int(o.batchesInFlightMax),
      batchLockWaitMs: int(o.batchLockWaitMs),
      batchLongMs: int(o.batchLongMs),
      statusStatementsMax: int(o.statusStatementsMax),
      queriesPerStatementMax: int(o.queriesPerStatementMax),
    },
    http: {
      port: int(o.httpPort),
      host: text(values, o.httpHost),
      poolSize: int(o.httpPoolSize),
      feedIntervalMs: int(o.feedIntervalMs),
      bookDepthMax: BOOK_DEPTH_MAX,
      tradesLimitMax: TRADES_LIMIT_MAX,
      candleTradesMax: CANDLE_TRADES_MAX,
      tradesScanRowsMax: int(o.tradesScanRowsMax),
      feedSubscribersMax: int(o.feedSubscribersMax),
    },
    log: {
      format: choice(values, o.logFormat),
      slowMs: int(o.slowMs),
      accessLog: flag(values, o.accessLog),
    },
  };
}
