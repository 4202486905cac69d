/**
 * Runs the operations of one request, in document order, and builds the answer elements:
 * `<create>` children in src/server/creations.ts, `<transactions>` children in
 * src/server/transactions.ts (through the order engine and the status reader built here).
 */
import { add, formatDecimal, ZERO } from "../exchange/decimal.ts";
import type { Database } from "../db/database.ts";
import { OPTION } from "../option_specs.ts";
import { SERVICE_UNAVAILABLE } from "../xml/answers.ts";
import type { XmlElement } from "../xml/element.ts";
import type { Request } from "../xml/request.ts";
import { runCreate } from "./creations.ts";
import { metrics } from "../observability/metrics.ts";
import type { RequestState } from "./operation_guard.ts";
import { type EngineObserver, OrderEngine } from "./order_engine.ts";
import { StatusReader } from "./status_reader.ts";
import { type RequestSequence, Transactions } from "./transactions.ts";

export { SERVICE_UNAVAILABLE };

/** How the order engine and the status reader batch (see src/config.ts). */
export interface ServiceOptions {
  batchOperationsMax: number;
  batchRowsMax: number;
  batchesInFlightMax: number;
  batchLockWaitMs: number;
  batchLongMs: number;
  statusStatementsMax: number;
  queriesPerStatementMax: number;
  observer?: EngineObserver;
}

/** The engine's work, recorded in the process's metrics. */
const METRICS_OBSERVER: EngineObserver = {
  batch: (size) => metrics.batch(size),
  fills: (report) => {
    if (report.fills > 0) {
      metrics.fills(report.fills, formatDecimal(report.sharesTraded.reduce(add, ZERO)));
    }
  },
  retry: () => metrics.retry(),
  rowsRead: (rows) => metrics.bookRowsRead(rows),
  failure: () => metrics.unhandled(),
};

/** Defaults for tests and tools that build a service without a full configuration. */
export const SERVICE_OPTIONS_DEFAULT: ServiceOptions = {
  batchOperationsMax: OPTION.batchOperationsMax.default,
  batchRowsMax: OPTION.batchRowsMax.default,
  batchesInFlightMax: OPTION.batchesInFlightMax.default,
  batchLockWaitMs: OPTION.batchLockWaitMs.default,
  batchLongMs: OPTION.batchLongMs.default,
  statusStatementsMax: OPTION.statusStatementsMax.default,
  queriesPerStatementMax: OPTION.queriesPerStatementMax.default,
};

/** Executes requests against one database. */
export class ExchangeService {
  readonly #db: Database;
  readonly #log: (line: string) => void;
  readonly engine: OrderEngine;
  readonly #transactions: Transactions;

  constructor(
    db: Database,
    log: (line: string) => void = console.error,
    options: ServiceOptions = SERVICE_OPTIONS_DEFAULT,
  ) {
    this.#db = db;
    this.#log = log;
    this.engine = new OrderEngine(db, {
      batchOperationsMax: options.batchOperationsMax,
      batchRowsMax: options.batchRowsMax,
      batchesInFlightMax: options.batchesInFlightMax,
      batchLockWaitMs: options.batchLockWaitMs,
      batchLongMs: options.batchLongMs,
      log,
      observer: options.observer ?? METRICS_OBSERVER,
    });
    if (options.observer === undefined) {
      metrics.watchOrderEngine({
        queued: () => this.engine.queuedTotal(),
        running: () => this.engine.runningTotal(),
      });
    }
    const statuses = new StatusReader(db, {
      statementsInFlightMax: options.statusStatementsMax,
      queriesPerStatementMax: options.queriesPerStatementMax,
    });
    this.#transactions = new Transactions(db, this.engine, statuses, log);
  }

  /**
   * All answer elements for `request`, one per operation, in order. `sequence`: for a request of
   * orders running beside the requests before it on its connection ({@link RequestSequence}).
   */
  async execute(request: Request, sequence?: RequestSequence): Promise<XmlElement[]> {
    const state: RequestState = { unavailable: false };
    if (request.kind === "create") {
      return await runCreate(this.#db, request.children, state, this.#log);
    }
    return await this.#transactions.run(request.attributes, request.children, state, sequence);
  }
}
