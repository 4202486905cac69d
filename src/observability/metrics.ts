/**
 * Every Prometheus metric of a server process, in one registry (prom-client), behind one small
 * typed object. The order engine, the transaction helper and the connection code call its
 * methods; only `/metrics` (src/http) reads the registry.
 *
 * With `--workers N` each worker keeps its own registry; the supervisor sums them with
 * prom-client's AggregatorRegistry (counters and histograms add up; the gauges here are sums by
 * nature: open connections, pool connections in use).
 *
 * The db layer does not call it: what the transaction helper and the connection pool count
 * (retries, connections in use, connections destroyed, COMMITs in doubt) is read from
 * `transactionStats` and `poolStats` when `/metrics` is scraped.
 */
import client from "prom-client";
import { poolStats } from "../db/connection_pool.ts";
import { transactionStats } from "../db/transaction.ts";
import { add, type Decimal, formatDecimal, parseDecimal, ZERO } from "../exchange/decimal.ts";

/** The operations of the protocol, as `exchange_operations_total` labels them. */
export type OperationKind = "create_account" | "create_symbol" | "order" | "query" | "cancel";
/** `ok`: done; `refused`: a named refusal (funds, unknown id, bad value); `error`: our fault. */
export type OperationOutcome = "ok" | "refused" | "error";
/** The two wire framings. */
export type FramingLabel = "text" | "binary";

/** Request durations: from 0.5 ms (a query on an idle server) to 10 s (the statement timeout). */
const DURATION_BUCKETS_SECONDS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  10,
];
/** Orders per engine batch: powers of two up to the largest batch worth distinguishing. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** The metrics of one process. */
export class ExchangeMetrics {
  /** The registry `/metrics` exposes. */
  readonly registry: client.Registry;
  readonly #operations: client.Counter<"kind" | "outcome">;
  readonly #invalidRequests: client.Counter<"framing">;
  readonly #requestDuration: client.Histogram<"framing">;
  readonly #connectionsOpen: client.Gauge;
  readonly #connectionsTotal: client.Counter;
  readonly #fills: client.Counter;
  readonly #bookRowsRead: client.Counter;
  readonly #retries: client.Counter;
  readonly #poolInUse: client.Gauge;
  readonly #batchSize: client.Histogram;
  readonly #unhandled: client.Counter;
  readonly #driverStray: client.Counter;
  readonly #httpRequests: client.Counter<"route" | "status">;
  /** Shares traded, summed exactly; the exported counter is this value as a float. */
  readonly #traded: { sum: Decimal } = { sum: ZERO };
  readonly #staleReruns = { count: 0 };
  /** Order engines of this process, read at scrape time (one in a server, more in tests). */
  readonly #engines = new Set<{ queued(): number; running(): number }>();

  constructor() {
    const registry = new client.Registry();
    const registers = [registry];
    this.registry = registry;
    this.#operations = new client.Counter({
      name: "exchange_operations_total",
      help: "Operations answered, by kind and outcome (refused: a named refusal; error: ours)",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.#invalidRequests = new client.Counter({
      name: "exchange_invalid_requests_total",
      help: "Requests answered with a single <error> because they could not be read at all",
      labelNames: ["framing"],
      registers,
    });
    this.#requestDuration = new client.Histogram({
      name: "exchange_request_duration_seconds",
      help: "Time from a request's arrival at the handler to its answer, by framing",
      labelNames: ["framing"],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#connectionsOpen = new client.Gauge({
      name: "exchange_connections_open",
      help: "TCP connections being served",
      registers,
    });
    this.#connectionsTotal = new client.Counter({
      name: "exchange_connections_total",
      help: "TCP connections accepted",
      registers,
    });
    this.#fills = new client.Counter({
      name: "exchange_fills_total",
      help: "Executions (one resting order meeting an incoming one)",
      registers,
    });
    this.#bookRowsRead = new client.Counter({
      name: "exchange_book_rows_read_total",
      help: "Resting orders read from the books by order-engine batches (first pages and " +
        "further pages, every attempt): a deep sweep reads its depth",
      registers,
    });
    const traded = this.#traded;
    new client.Counter({
      name: "exchange_shares_traded_total",
      help: "Shares executed, summed exactly and exported as a float",
      registers,
      collect() {
        // Exact sum kept as a Decimal; only the exported sample is a float.
        this.reset();
        this.inc(Number(formatDecimal(traded.sum)));
      },
    });
    // The transaction helper (src/db) counts its own retries and reserved connections; they are
    // read at scrape time, so that the db layer need not know about metrics.
    const staleReruns = this.#staleReruns;
    this.#retries = new client.Counter({
      name: "exchange_db_retries_total",
      help: "Transactions run again: deadlocks, serialization failures, balances changed by " +
        "another book between read and lock",
      registers,
      collect() {
        this.reset();
        this.inc(transactionStats.retried + staleReruns.count);
      },
    });
    this.#poolInUse = new client.Gauge({
      name: "exchange_db_pool_in_use",
      help: "Pool connections reserved by transactions right now",
      registers,
      collect() {
        this.set(transactionStats.inUse);
      },
    });
    new client.Counter({
      name: "exchange_db_connections_destroyed_total",
      help: "Database connections destroyed: while lent to an operation, `closed` (terminated " +
        "backend, reset network, stopped server), `silent` (its answer lost on the way, seen " +
        "by the session probe) or `deadline` (no answer in time); idle, `idle_after_silence` " +
        "(dropped because another connection went silent)",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        this.inc({ reason: "closed" }, poolStats.closedUnderLease);
        this.inc({ reason: "silent" }, poolStats.silent);
        this.inc({ reason: "deadline" }, poolStats.expired);
        this.inc({ reason: "idle_after_silence" }, poolStats.droppedIdle);
      },
    });
    new client.Counter({
      name: "exchange_db_commits_in_doubt_total",
      help: "COMMITs whose answer was lost with their connection, by what PostgreSQL said " +
        "happened: committed, aborted, or unknown (not asked in time: answered `Outcome unknown`)",
      labelNames: ["resolution"],
      registers,
      collect() {
        this.reset();
        this.inc({ resolution: "committed" }, transactionStats.inDoubtCommitted);
        this.inc({ resolution: "aborted" }, transactionStats.inDoubtAborted);
        this.inc({ resolution: "unknown" }, transactionStats.inDoubtUnknown);
      },
    });
    this.#unhandled = new client.Counter({
      name: "exchange_unhandled_errors_total",
      help: "Errors that reached the last-resort handler (a stray rejection, an uncaught " +
        "exception, a failing observer): each is a bug, logged with its stack",
      registers,
    });
    this.#driverStray = new client.Counter({
      name: "exchange_driver_stray_rejections_total",
      help: "Connection failures that reached the last-resort handler from inside the driver " +
        "after their operation was answered (seen under PostgreSQL restarts; see last_resort.ts)",
      registers,
    });
    this.#batchSize = new client.Histogram({
      name: "exchange_order_batch_size",
      help: "Orders and cancels per order-engine batch (one transaction of one book)",
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    const engines = this.#engines;
    new client.Gauge({
      name: "exchange_order_queue_depth",
      help: "Orders and cancels waiting for a batch",
      registers,
      collect() {
        let depth = 0;
        for (const engine of engines) {
          depth += engine.queued();
        }
        this.set(depth);
      },
    });
    new client.Gauge({
      name: "exchange_order_batch_operations_running",
      help: "Orders and cancels in running batches",
      registers,
      collect() {
        let running = 0;
        for (const engine of engines) {
          running += engine.running();
        }
        this.set(running);
      },
    });
    this.#httpRequests = new client.Counter({
      name: "exchange_http_requests_total",
      help: "HTTP side-port requests, by route and status",
      labelNames: ["route", "status"],
      registers,
    });
  }

  /** One operation answered. */
  operation(kind: OperationKind, outcome: OperationOutcome): void {
    this.#operations.inc({ kind, outcome });
  }

  /** A request that could not be read (bad XML, bad frame): no operations ran. */
  invalidRequest(framing: FramingLabel): void {
    this.#invalidRequests.inc({ framing });
  }

  /** `count` executions of `shares` shares in total (an exact decimal string), committed. */
  fills(count: number, shares: string): void {
    const parsed = parseDecimal(shares);
    if (typeof parsed === "string") {
      throw new TypeError(`fills() needs a decimal share count, got ${JSON.stringify(shares)}`);
    }
    this.#fills.inc(count);
    this.#traded.sum = add(this.#traded.sum, parsed);
  }

  /** The order engine runs a batch again because another book changed a balance it read. */
  /** An error reached the last-resort handler. */
  unhandled(): void {
    this.#unhandled.inc();
  }

  /** A connection failure reached the last-resort handler from inside the driver. */
  driverStray(): void {
    this.#driverStray.inc();
  }

  retry(): void {
    this.#staleReruns.count++;
  }

  /** Reports an order engine's queued and running operations as gauges. */
  watchOrderEngine(engine: { queued(): number; running(): number }): void {
    this.#engines.add(engine);
  }

  /** Order-engine batches read `rows` resting orders from the books. */
  bookRowsRead(rows: number): void {
    this.#bookRowsRead.inc(rows);
  }

  /** The order engine applied a batch of `size` orders. */
  batch(size: number): void {
    this.#batchSize.observe(size);
  }

  /** A request was answered `seconds` after it reached the handler. */
  requestDuration(framing: FramingLabel, seconds: number): void {
    this.#requestDuration.observe({ framing }, seconds);
  }

  /** A TCP connection was accepted. */
  connectionOpened(): void {
    this.#connectionsOpen.inc();
    this.#connectionsTotal.inc();
  }

  /** A TCP connection was closed. */
  connectionClosed(): void {
    this.#connectionsOpen.dec();
  }

  /** One HTTP request served. */
  httpRequest(route: string, status: number): void {
    this.#httpRequests.inc({ route, status: String(status) });
  }

  /** The exact total of shares traded so far in this process. */
  get sharesTraded(): string {
    return formatDecimal(this.#traded.sum);
  }
}

/** The metrics of this process: one instance, so that every layer records into one registry. */
export const metrics: ExchangeMetrics = new ExchangeMetrics();

/** One process's metrics as JSON (`registry.getMetricsAsJSON()`), for the supervisor to sum. */
export type MetricsSnapshot = object[];

/** This process's metrics as JSON, for the `--workers` supervisor. */
export async function metricsSnapshot(): Promise<MetricsSnapshot> {
  return await metrics.registry.getMetricsAsJSON();
}

/**
 * Sums the metrics of several processes (the supervisor and the workers of `--workers N`) into
 * one exposition text: prom-client's aggregator adds counters, histogram buckets and gauges.
 */
export async function aggregateMetrics(snapshots: MetricsSnapshot[]): Promise<string> {
  return await client.AggregatorRegistry.aggregate(snapshots).metrics();
}

/** The content type of the Prometheus text exposition. */
export const METRICS_CONTENT_TYPE: string = client.Registry.PROMETHEUS_CONTENT_TYPE;
