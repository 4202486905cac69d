/**
 * The one table of the server's options: for each its flag, environment variable, kind, default,
 * range and help. `buildConfig` (src/config.ts) reads values by it, `--help` and the README's
 * options table (src/options_text.ts, `deno task readme:options`) are written from it, so a
 * default, a range or a help text is changed here and nowhere else.
 *
 * Longer than 300 lines on purpose: it is a table, one entry of about ten lines per option.
 */

/** What every option has. */
interface OptionBase {
  /** The command-line flag without its dashes (`frame-bytes-max`). */
  flag: string;
  /** The environment variable read when the flag is absent. */
  env: string;
  /** What the option means, for `--help` and the README (Markdown backticks allowed). */
  help: string;
}

/** A whole number within `min`..`max`. */
export interface IntegerOption extends OptionBase {
  kind: "integer";
  default: number;
  min: number;
  max: number;
  /** The largest value is `max` or the machine's number of cores, whichever is larger. */
  maxAtLeastCores?: true;
}

/** Free text; `undefined` as the default means "not set". */
export interface TextOption extends OptionBase {
  kind: "string";
  default: string | undefined;
}

/** One word of a fixed list. */
export interface ChoiceOption<T extends string = string> extends OptionBase {
  kind: "choice";
  choices: readonly T[];
  default: T;
}

/** A switch: off unless the flag is given or the variable says so (strictly, see envBoolean). */
export interface BooleanOption extends OptionBase {
  kind: "boolean";
  default: false;
}

/** One option of `serve` (and of `audit`, which takes the same). */
export type OptionSpec = IntegerOption | TextOption | ChoiceOption | BooleanOption;

/** Every option by name, in the order `--help` and the README list them. */
export const OPTION = {
  host: {
    flag: "host",
    env: "EXCHANGE_HOST",
    kind: "string",
    default: "0.0.0.0",
    help: "address to listen on",
  },
  port: {
    flag: "port",
    env: "EXCHANGE_PORT",
    kind: "integer",
    default: 12345,
    min: 0,
    max: 65535,
    help: "TCP port",
  },
  workers: {
    flag: "workers",
    env: "EXCHANGE_WORKERS",
    kind: "integer",
    default: 1,
    min: 1,
    max: 64,
    maxAtLeastCores: true,
    help: "server processes sharing the port",
  },
  dataDir: {
    flag: "data-dir",
    env: "EXCHANGE_DATA_DIR",
    kind: "string",
    default: ".data",
    help: "embedded PostgreSQL location",
  },
  databaseUrl: {
    flag: "database-url",
    env: "DATABASE_URL",
    kind: "string",
    default: undefined,
    help: "use this PostgreSQL instead of the embedded one",
  },
  poolSize: {
    flag: "pool-size",
    env: "EXCHANGE_POOL_SIZE",
    kind: "integer",
    default: 16,
    min: 1,
    max: 1000,
    help: "database connections in total; requests queue for a free one",
  },
  reset: {
    flag: "reset",
    env: "EXCHANGE_RESET",
    kind: "boolean",
    default: false,
    help: "delete all exchange data at start (the variable takes exactly `1`/`true`/`yes` or " +
      "`0`/`false`/`no`, any case; anything else stops the server)",
  },
  frameBytesMax: {
    flag: "frame-bytes-max",
    env: "EXCHANGE_FRAME_BYTES_MAX",
    kind: "integer",
    default: 1024 * 1024,
    min: 1,
    max: 256 * 1024 * 1024,
    help: "largest request, in bytes",
  },
  xmlDepthMax: {
    flag: "xml-depth-max",
    env: "EXCHANGE_XML_DEPTH_MAX",
    kind: "integer",
    default: 16,
    min: 3,
    max: 256,
    help: "deepest element nesting",
  },
  childrenPerRequestMax: {
    flag: "children-per-request-max",
    env: "EXCHANGE_CHILDREN_PER_REQUEST_MAX",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    help: "most operations in one request",
  },
  attributesPerElementMax: {
    flag: "attributes-per-element-max",
    env: "EXCHANGE_ATTRIBUTES_PER_ELEMENT_MAX",
    kind: "integer",
    default: 16,
    min: 3,
    max: 1024,
    help: "most attributes on an element",
  },
  connectionsMax: {
    flag: "connections-max",
    env: "EXCHANGE_CONNECTIONS_MAX",
    kind: "integer",
    default: 1024,
    min: 1,
    max: 1_000_000,
    help: "connections served at once per process; the rest wait in the accept queue",
  },
  connectionRequestsMax: {
    flag: "connection-requests-max",
    env: "EXCHANGE_CONNECTION_REQUESTS_MAX",
    kind: "integer",
    // Pipelined orders of one connection reach the order engine together and share its batches,
    // as the orders of as many clients would (src/server/request_handler_stream.ts). 8 covers the
    // bench's 4 in flight twice over; each running request holds at most its own operations.
    default: 8,
    min: 1,
    max: 1024,
    help: "requests of one binary connection that run at once: a pipelined request of orders " +
      "starts once the requests before it have queued theirs, and is never decided before them " +
      "(other requests still wait for all before them to finish; 1: one request at a time)",
  },
  frameTimeoutMs: {
    flag: "frame-timeout-ms",
    env: "EXCHANGE_FRAME_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 3_600_000,
    help: "deadline for a whole frame, counting only time spent waiting for the client (a " +
      "trickling client cannot hold a connection; a pipelining one held back by a busy server " +
      "is not cut off); also for a client silent since connecting or not reading its answers",
  },
  idleTimeoutMs: {
    flag: "idle-timeout-ms",
    env: "EXCHANGE_IDLE_TIMEOUT_MS",
    kind: "integer",
    default: 60_000,
    min: 1,
    max: 86_400_000,
    help: "close an idle binary connection",
  },
  connectTimeoutMs: {
    flag: "connect-timeout-ms",
    env: "EXCHANGE_CONNECT_TIMEOUT_MS",
    kind: "integer",
    default: 5_000,
    min: 1,
    max: 600_000,
    help: "database connect timeout",
  },
  acquireTimeoutMs: {
    flag: "acquire-timeout-ms",
    env: "EXCHANGE_ACQUIRE_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 3_600_000,
    help: "longest wait for a free pool connection; then the operation is answered " +
      "`Service unavailable`",
  },
  statementTimeoutMs: {
    flag: "statement-timeout-ms",
    env: "EXCHANGE_STATEMENT_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 3_600_000,
    help: "PostgreSQL `statement_timeout`",
  },
  lockTimeoutMs: {
    flag: "lock-timeout-ms",
    env: "EXCHANGE_LOCK_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 3_600_000,
    help: "PostgreSQL `lock_timeout`: an operation waiting longer for a lock is rolled back " +
      "and answered",
  },
  idleInTransactionTimeoutMs: {
    flag: "idle-in-transaction-timeout-ms",
    env: "EXCHANGE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 3_600_000,
    help: "PostgreSQL `idle_in_transaction_session_timeout`: a stalled server process cannot " +
      "hold a book lock forever",
  },
  operationTimeoutMs: {
    flag: "operation-timeout-ms",
    env: "EXCHANGE_OPERATION_TIMEOUT_MS",
    kind: "integer",
    default: 10_000,
    min: 100,
    max: 3_600_000,
    help: "longest an order, cancel, query or creation waits for the database in all (queue, " +
      "connection, statements, COMMIT); past it the connection is destroyed and the operation " +
      "answered `Service unavailable` (nothing happened) or, if its COMMIT was in flight, by " +
      "what PostgreSQL says happened",
  },
  commitResolveMs: {
    flag: "commit-resolve-ms",
    env: "EXCHANGE_COMMIT_RESOLVE_MS",
    kind: "integer",
    default: 2_000,
    min: 10,
    max: 600_000,
    help: "the last part of `--operation-timeout-ms` (at most half of it), kept for asking " +
      "PostgreSQL what an unanswered COMMIT did; if it cannot be asked in time the answer is " +
      "`Outcome unknown`",
  },
  retriesMax: {
    flag: "retries-max",
    env: "EXCHANGE_RETRIES_MAX",
    kind: "integer",
    default: 5,
    min: 0,
    max: 100,
    help: "reruns of a transaction after deadlock/serialization failure",
  },
  shutdownGraceMs: {
    flag: "shutdown-grace-ms",
    env: "EXCHANGE_SHUTDOWN_GRACE_MS",
    kind: "integer",
    default: 10_000,
    min: 0,
    max: 600_000,
    help: "how long SIGINT/SIGTERM waits for requests in flight; after it the rest is " +
      "abandoned (rolled back) and the process exits",
  },
  batchOperationsMax: {
    flag: "batch-operations-max",
    env: "EXCHANGE_BATCH_OPERATIONS_MAX",
    kind: "integer",
    // Bounded so that one transaction's locks, statement parameters and answers stay small:
    // 128 operations are about 3000 parameters of exchange_apply_batch and a few ms of work.
    default: 128,
    min: 1,
    max: 10_000,
    help: "orders and cancels taken into one transaction (from the queues of idle books)",
  },
  batchRowsMax: {
    flag: "batch-rows-max",
    env: "EXCHANGE_BATCH_ROWS_MAX",
    kind: "integer",
    // Bounds a batch's work by what it writes, not only by its operations: each resting order
    // filled is an order row updated and an execution inserted. What a batch holds waits for all
    // of it, so a deep sweep runs in a batch of its own (src/exchange/book_batch.ts), and other
    // books go on beside it after --batch-long-ms (src/server/order_engine.ts). Measured (issue 19, 2 loaded cores): a buy filling 60,000
    // rows took 3.0-3.2 s in all, about 50 us a row, so 4096 rows hold the others about 0.2 s.
    default: 4096,
    min: 1,
    max: 1_000_000,
    help: "resting orders one transaction may fill: an order that would take a batch past it " +
      "goes, with the operations after it, back to the queues for the next batch, where it comes " +
      "first (an order is never split: one that alone sweeps more runs whole, in a batch of its " +
      "own)",
  },
  batchesInFlightMax: {
    flag: "batches-in-flight-max",
    env: "EXCHANGE_BATCHES_IN_FLIGHT_MAX",
    kind: "integer",
    // At most two, and the second only while the first is stuck on a book lock held by someone
    // else (another process, an outside session) for longer than batchLockWaitMs: one batch at a
    // time made twice the batch size and 40% less CPU per order than two always in flight
    // (src/server/order_engine.ts).
    default: 2,
    min: 1,
    max: 1000,
    help: "order-engine transactions running at once",
  },
  batchLockWaitMs: {
    flag: "batch-lock-wait-ms",
    env: "EXCHANGE_BATCH_LOCK_WAIT_MS",
    kind: "integer",
    // A book lock is normally held for 2-3 ms (two round trips and a WAL flush).
    default: 5,
    min: 0,
    max: 60_000,
    help: "a second batch starts only while the running one has waited this long for its book " +
      "locks (held by another process or session)",
  },
  batchLongMs: {
    flag: "batch-long-ms",
    env: "EXCHANGE_BATCH_LONG_MS",
    kind: "integer",
    // A batch normally holds its books for 2-5 ms; one order sweeping 60,000 resting orders held
    // every other book of the process for seconds (issue 19) before this rule. Well under the
    // 50 ms that another book's orders may wait during such a sweep.
    default: 20,
    min: 1,
    max: 60_000,
    help: "a second batch also starts, for other books, beside a running one that has taken this " +
      "long (a deep sweep, a slow statement)",
  },
  statusStatementsMax: {
    flag: "status-statements-max",
    env: "EXCHANGE_STATUS_STATEMENTS_MAX",
    kind: "integer",
    default: 4,
    min: 1,
    max: 1000,
    help: "status statements (`<query>`s) running at once; more queries wait and share the " +
      "next one",
  },
  queriesPerStatementMax: {
    flag: "queries-per-statement-max",
    env: "EXCHANGE_QUERIES_PER_STATEMENT_MAX",
    kind: "integer",
    default: 128,
    min: 1,
    max: 10_000,
    help: "most `<query>`s answered by one statement",
  },
  httpPort: {
    flag: "http-port",
    env: "EXCHANGE_HTTP_PORT",
    kind: "integer",
    // Next to the exchange's 12345, rarely taken by anything else.
    default: 12380,
    min: 0,
    max: 65535,
    help: "HTTP side port (metrics, health, market data, the page); `0` turns HTTP off",
  },
  httpHost: {
    flag: "http-host",
    env: "EXCHANGE_HTTP_HOST",
    kind: "string",
    default: "127.0.0.1",
    help: "its address: loopback, since market data and metrics are not for the open internet " +
      "unless the operator says so",
  },
  httpPoolSize: {
    flag: "http-pool-size",
    env: "EXCHANGE_HTTP_POOL_SIZE",
    kind: "integer",
    default: 2,
    min: 1,
    max: 100,
    help: "database connections of the HTTP side, apart from the order pool",
  },
  feedIntervalMs: {
    flag: "feed-interval-ms",
    env: "EXCHANGE_FEED_INTERVAL_MS",
    kind: "integer",
    default: 250,
    min: 10,
    max: 60_000,
    help: "how often the live feed looks for a change of the watched books",
  },
  feedSubscribersMax: {
    flag: "feed-subscribers-max",
    env: "EXCHANGE_FEED_SUBSCRIBERS_MAX",
    kind: "integer",
    default: 256,
    min: 1,
    max: 100_000,
    help: "live-feed (page) subscribers at once",
  },
  tradesScanRowsMax: {
    flag: "trades-scan-rows-max",
    env: "EXCHANGE_TRADES_SCAN_ROWS_MAX",
    kind: "integer",
    default: 10_000,
    min: 1,
    max: 10_000_000,
    help: "a symbol's trades are looked for among the exchange's newest this-many executions",
  },
  logFormat: {
    flag: "log-format",
    env: "EXCHANGE_LOG_FORMAT",
    kind: "choice",
    choices: ["text", "json"] as const,
    default: "text",
    help: "`text` or `json` (one object per line)",
  },
  slowMs: {
    flag: "slow-ms",
    env: "EXCHANGE_SLOW_MS",
    kind: "integer",
    default: 1_000,
    min: 0,
    max: 3_600_000,
    help: "a request slower than this gets a `slow_request` line",
  },
  accessLog: {
    flag: "access-log",
    env: "EXCHANGE_ACCESS_LOG",
    kind: "boolean",
    default: false,
    help: "one line per request (TCP and HTTP) and per connection opened/closed",
  },
} as const satisfies Record<string, OptionSpec>;

/** Every option, in the order `--help` and the README list them. */
export const OPTIONS: readonly OptionSpec[] = Object.values(OPTION);

/** The largest value an integer option takes on a machine with `cpuCount` cores. */
export function optionMax(option: IntegerOption, cpuCount: number): number {
  return option.maxAtLeastCores === true ? Math.max(option.max, cpuCount) : option.max;
}
