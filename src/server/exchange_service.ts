/**
 * Runs the operations of one request, in document order, and builds the answer elements.
 * Validation happens here, before anything reaches the database. Orders and cancels go to their
 * book's queue in the order engine (one transaction per batch of a book); queries go to the
 * status reader (one statement for the queries arriving together); creations run in their own
 * small transactions.
 */
import { AssertionError } from "../exchange/assert.ts";
import type { Side } from "../exchange/matching.ts";
import {
  checkAccountId,
  checkBalance,
  checkLimitPrice,
  checkOrderAmount,
  checkOrderId,
  checkShares,
  checkSymbol,
} from "../exchange/validation.ts";
import { abs, add, formatDecimal, ZERO } from "../exchange/decimal.ts";
import { OPTION } from "../option_specs.ts";
import { metrics } from "./metrics.ts";
import { accountExists, createAccount } from "../db/accounts.ts";
import type { Database } from "../db/database.ts";
import { errorCode, isRetryable, isStaleBalance, isTimeout, isUnavailable } from "../db/errors.ts";
import { orderSymbol } from "../db/orders.ts";
import { declareSymbol, mintShares } from "../db/symbols.ts";
import { CommittedAnswerError } from "../db/transaction.ts";
import {
  ACCOUNT_MISSING,
  createdAnswer,
  EMPTY_TRANSACTIONS,
  errorAnswer,
  INTERNAL_ERROR,
  INTERNAL_ERROR_COMMITTED,
  KEPT_CONFLICTING,
  openedAnswer,
  type Pairs,
  refusalMessage,
  SERVICE_UNAVAILABLE,
  statusAnswer,
  TIMED_OUT,
  UNKNOWN_ORDER,
  unknownElementAnswer,
} from "../xml/answers.ts";
import type { XmlElement } from "../xml/element.ts";
import type {
  Attributes,
  CreateAccount,
  CreateSymbol,
  Request,
  TransactionChild,
  UnknownElement,
} from "../xml/request.ts";
import { type EngineAnswer, type EngineObserver, OrderEngine } from "./order_engine.ts";
import { StatusReader } from "./status_reader.ts";

export { SERVICE_UNAVAILABLE };

/** Picks `names` from the request attributes, in that order, skipping absent ones (for echoes). */
function echo(attributes: Attributes, names: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const name of names) {
    const value = attributes.get(name);
    if (value !== undefined) {
      pairs.push([name, value]);
    }
  }
  return pairs;
}

/** How the order engine and the status reader batch (see src/config.ts). */
export interface ServiceOptions {
  batchOperationsMax: number;
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
};

/** Defaults for tests and tools that build a service without a full configuration. */
export const SERVICE_OPTIONS_DEFAULT: ServiceOptions = {
  batchOperationsMax: OPTION.batchOperationsMax.default,
  statusStatementsMax: OPTION.statusStatementsMax.default,
  queriesPerStatementMax: OPTION.queriesPerStatementMax.default,
};

/** Per request: once the database is found unreachable, the rest is answered at once. */
interface RequestState {
  unavailable: boolean;
}

/** Executes requests against one database. */
export class ExchangeService {
  readonly #db: Database;
  readonly #log: (line: string) => void;
  readonly engine: OrderEngine;
  readonly #statuses: StatusReader;

  constructor(
    db: Database,
    log: (line: string) => void = console.error,
    options: ServiceOptions = SERVICE_OPTIONS_DEFAULT,
  ) {
    this.#db = db;
    this.#log = log;
    this.engine = new OrderEngine(db, {
      batchOperationsMax: options.batchOperationsMax,
      log,
      observer: options.observer ?? METRICS_OBSERVER,
    });
    if (options.observer === undefined) {
      metrics.watchOrderQueue(() => this.engine.queuedTotal());
    }
    this.#statuses = new StatusReader(db, {
      statementsInFlightMax: options.statusStatementsMax,
      queriesPerStatementMax: options.queriesPerStatementMax,
    });
  }

  /** All answer elements for `request`, one per operation, in order. */
  async execute(request: Request): Promise<XmlElement[]> {
    const state: RequestState = { unavailable: false };
    if (request.kind === "create") {
      const results: XmlElement[] = [];
      for (const child of request.children) {
        switch (child.kind) {
          case "account":
            results.push(
              await this.#guard(
                state,
                echo(child.attributes, ["id"]),
                () => this.#createAccount(child),
              ),
            );
            break;
          case "symbol":
            results.push(...await this.#createSymbol(child, state));
            break;
          case "unknown":
            results.push(
              unknownElementAnswer(
                [...child.attributes],
                child.name,
                "<create> holds <account> and <symbol>",
              ),
            );
            break;
        }
      }
      return results;
    }
    return await this.#transactions(request.attributes, request.children, state);
  }

  /** Runs one operation, turning database trouble into an `<error>` for that operation. */
  async #guard(
    state: RequestState,
    echoed: Pairs,
    operation: () => Promise<XmlElement>,
  ): Promise<XmlElement> {
    if (state.unavailable) {
      return errorAnswer(echoed, SERVICE_UNAVAILABLE);
    }
    try {
      return await operation();
    } catch (error) {
      return errorAnswer(echoed, this.#failureMessage(error, state));
    }
  }

  /** The `<error>` text for an operation that failed with `error` (not a refusal). */
  #failureMessage(error: unknown, state: RequestState): string {
    if (isUnavailable(error)) {
      state.unavailable = true;
      return SERVICE_UNAVAILABLE;
    }
    if (isTimeout(error)) {
      return TIMED_OUT;
    }
    if (isRetryable(error) || isStaleBalance(error)) {
      return KEPT_CONFLICTING;
    }
    if (error instanceof CommittedAnswerError) {
      this.#log(
        `answer failed after COMMIT: ${
          error.cause instanceof Error ? error.cause.stack : error.cause
        }`,
      );
      return INTERNAL_ERROR_COMMITTED;
    }
    const kind = error instanceof AssertionError
      ? "invariant violated"
      : `error ${errorCode(error)}`;
    this.#log(`operation failed (${kind}): ${(error as Error)?.stack ?? error}`);
    return INTERNAL_ERROR;
  }

  async #createAccount(child: CreateAccount): Promise<XmlElement> {
    const echoed = echo(child.attributes, ["id"]);
    const id = checkAccountId(child.attributes.get("id"));
    if (!id.ok) {
      return errorAnswer(echoed, id.message);
    }
    const balance = checkBalance(child.attributes.get("balance"));
    if (!balance.ok) {
      return errorAnswer(echoed, balance.message);
    }
    const outcome = await createAccount(this.#db, id.value, balance.value);
    return outcome.ok ? createdAnswer([["id", id.value]]) : errorAnswer(echoed, outcome.message);
  }

  async #createSymbol(child: CreateSymbol, state: RequestState): Promise<XmlElement[]> {
    const rawSym = child.attributes.get("sym");
    const symEcho: Array<[string, string]> = rawSym === undefined ? [] : [["sym", rawSym]];
    const sym = checkSymbol(rawSym);
    if (child.children.length === 0) {
      // A <symbol> listing no accounts still declares the symbol: one answer for it.
      if (!sym.ok) {
        return [errorAnswer(symEcho, sym.message)];
      }
      const symbol = sym.value;
      return [
        await this.#guard(state, symEcho, async () => {
          await declareSymbol(this.#db, symbol);
          return createdAnswer([["sym", symbol]]);
        }),
      ];
    }
    const results: XmlElement[] = [];
    for (const account of child.children) {
      const echoed: Pairs = [...symEcho, ...echo(account.attributes, ["id"])];
      if (account.kind === "unknown") {
        results.push(unknownElementAnswer(echoed, account.name, "<symbol> holds <account>"));
        continue;
      }
      if (!sym.ok) {
        results.push(errorAnswer(echoed, sym.message));
        continue;
      }
      const id = checkAccountId(account.attributes.get("id"));
      if (!id.ok) {
        results.push(errorAnswer(echoed, id.message));
        continue;
      }
      const shares = checkShares(account.text === "" ? undefined : account.text);
      if (!shares.ok) {
        results.push(errorAnswer(echoed, shares.message));
        continue;
      }
      const symbol = sym.value;
      results.push(
        await this.#guard(state, echoed, async () => {
          const outcome = await mintShares(this.#db, symbol, id.value, shares.value);
          return outcome.ok
            ? createdAnswer([["sym", symbol], ["id", id.value]])
            : errorAnswer(echoed, outcome.message);
        }),
      );
    }
    return results;
  }

  async #transactions(
    attributes: Attributes,
    children: ReadonlyArray<TransactionChild | UnknownElement>,
    state: RequestState,
  ): Promise<XmlElement[]> {
    if (children.length === 0) {
      return [errorAnswer(echo(attributes, ["id"]), EMPTY_TRANSACTIONS)];
    }
    // One shared account check serves every kind of child: the rule is the same for all.
    const accountProblem = await this.#checkTransactionsAccount(attributes.get("id"), state);
    const results: XmlElement[] = [];
    for (const child of children) {
      const echoed = echoFor(child);
      if (child.kind === "unknown") {
        results.push(
          unknownElementAnswer(
            echoed,
            child.name,
            "<transactions> holds <order>, <query> and <cancel>",
          ),
        );
      } else if (accountProblem !== undefined) {
        results.push(errorAnswer(echoed, accountProblem));
      } else {
        const accountId = attributes.get("id")!;
        results.push(await this.#guard(state, echoed, () => this.#transaction(accountId, child)));
      }
    }
    return results;
  }

  /**
   * Undefined if the account exists, else the message every child is answered with. Never
   * throws: an unexpected failure is answered per child too, like any other failure.
   */
  async #checkTransactionsAccount(
    raw: string | undefined,
    state: RequestState,
  ): Promise<string | undefined> {
    const id = checkAccountId(raw);
    if (!id.ok) {
      return id.message;
    }
    try {
      return (await accountExists(this.#db, id.value)) ? undefined : ACCOUNT_MISSING;
    } catch (error) {
      return this.#failureMessage(error, state);
    }
  }

  async #transaction(accountId: string, child: TransactionChild): Promise<XmlElement> {
    const echoed = echoFor(child);
    if (child.kind === "order") {
      const sym = checkSymbol(child.attributes.get("sym"));
      const amount = checkOrderAmount(child.attributes.get("amount"));
      const limit = checkLimitPrice(child.attributes.get("limit"));
      if (!sym.ok) {
        return errorAnswer(echoed, sym.message);
      }
      if (!amount.ok) {
        return errorAnswer(echoed, amount.message);
      }
      if (!limit.ok) {
        return errorAnswer(echoed, limit.message);
      }
      const side: Side = amount.value.units > 0n ? "buy" : "sell";
      const answer = await this.engine.submit(sym.value, {
        kind: "order",
        accountId,
        side,
        shares: abs(amount.value),
        limit: limit.value,
      });
      return this.#engineAnswer(
        answer,
        echoed,
        (opened) => openedAnswer(sym.value, amount.value, limit.value, opened),
      );
    }
    const orderId = checkOrderId(child.attributes.get("id"));
    if (!orderId.ok) {
      return errorAnswer(echoed, orderId.message);
    }
    if (child.kind === "query") {
      const status = await this.#statuses.read({ orderId: orderId.value, accountId });
      return status === undefined
        ? errorAnswer(echoed, UNKNOWN_ORDER)
        : statusAnswer("status", echoed, status);
    }
    // A cancel joins the queue of its order's book; the order is read again under its lock.
    const sym = await orderSymbol(this.#db.sql, accountId, orderId.value);
    if (sym === undefined) {
      return errorAnswer(echoed, UNKNOWN_ORDER);
    }
    const answer = await this.engine.submit(sym, {
      kind: "cancel",
      accountId,
      orderId: BigInt(orderId.value),
    });
    return this.#engineAnswer(answer, echoed, () => {
      throw new AssertionError("a cancel was answered as an opened order");
    });
  }

  /** The answer element of an order or cancel that went through the engine. */
  #engineAnswer(
    answer: EngineAnswer,
    echoed: Pairs,
    opened: (id: bigint) => XmlElement,
  ): XmlElement {
    switch (answer.kind) {
      case "failed":
        throw answer.error;
      case "refused":
        return errorAnswer(echoed, refusalMessage(answer.refusal));
      case "opened":
        return opened(answer.id);
      case "canceled":
        return statusAnswer("canceled", echoed, {
          open: undefined,
          canceled: { shares: answer.shares, time: answer.time },
          executions: answer.executions,
        });
    }
  }
}

function echoFor(child: TransactionChild | UnknownElement): Array<[string, string]> {
  switch (child.kind) {
    case "order":
      return echo(child.attributes, ["sym", "amount", "limit"]);
    case "query":
    case "cancel":
      return echo(child.attributes, ["id"]);
    case "unknown":
      return [...child.attributes];
  }
}
