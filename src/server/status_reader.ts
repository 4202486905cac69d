/**
 * Answers `<query>`s arriving together with one statement per round trip. A query starts at once
 * while fewer than `statementsInFlightMax` status statements are running; beyond that, queries
 * wait and the next statement to start takes all of them (up to `queriesPerStatementMax`).
 * At low load a query costs one statement of its own; under load a statement serves many.
 */
import { type OrderStatus, readStatuses, statusKey, type StatusRequest } from "../db/orders.ts";
import type { Database } from "../db/database.ts";
import { withLease } from "../db/transaction.ts";

export interface StatusReaderOptions {
  /** Status statements running at once (each holds a pool connection while it runs). */
  statementsInFlightMax: number;
  /** Most orders one statement reads. */
  queriesPerStatementMax: number;
}

interface Waiting {
  readonly request: StatusRequest;
  /** When it must be answered by (a `performance.now()` time). */
  readonly deadline: number;
  readonly resolve: (status: OrderStatus | undefined) => void;
  readonly reject: (error: unknown) => void;
}

export class StatusReader {
  readonly #db: Database;
  readonly #options: StatusReaderOptions;
  readonly #waiting: Waiting[] = [];
  #inFlight = 0;

  constructor(db: Database, options: StatusReaderOptions) {
    this.#db = db;
    this.#options = options;
  }

  /**
   * The status of order `orderId` of `accountId`, or undefined if it has no such order; fails
   * unavailable past `deadline` (by default the operation timeout from now).
   */
  read(
    request: StatusRequest,
    deadline = performance.now() + this.#db.operationTimeoutMs,
  ): Promise<OrderStatus | undefined> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ request, deadline, resolve, reject });
      this.#startStatements();
    });
  }

  #startStatements(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.#options.statementsInFlightMax) {
      const group = this.#waiting.splice(0, this.#options.queriesPerStatementMax);
      this.#inFlight++;
      this.#run(group).finally(() => {
        this.#inFlight--;
        this.#startStatements();
      });
    }
  }

  async #run(group: readonly Waiting[]): Promise<void> {
    let statuses: Map<string, OrderStatus>;
    try {
      // The statement serves the whole group: it must be done by the earliest deadline in it.
      statuses = await withLease(
        this.#db,
        (sql) => readStatuses(sql, group.map((w) => w.request)),
        Math.min(...group.map((w) => w.deadline)),
      );
    } catch (error) {
      for (const waiting of group) {
        waiting.reject(error);
      }
      return;
    }
    for (const waiting of group) {
      waiting.resolve(statuses.get(statusKey(waiting.request)));
    }
  }
}
