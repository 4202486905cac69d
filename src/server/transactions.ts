/**
 * `<transactions>`: orders and cancels go to their book's queue in the order engine (one
 * transaction per batch of a book); queries go to the status reader (one statement for the
 * queries arriving together). Every child is validated before anything reaches the database.
 */
import { AssertionError } from "../exchange/assert.ts";
import { abs } from "../exchange/decimal.ts";
import type { BatchOrder } from "../exchange/batch_types.ts";
import type { Side } from "../exchange/matching.ts";
import {
  checkAccountId,
  checkLimitPrice,
  checkOrderAmount,
  checkOrderId,
  checkOrderRef,
  checkSelfTradeMode,
  checkSymbol,
  checkTimeInForce,
} from "../exchange/validation.ts";
import { accountExists } from "../db/accounts.ts";
import type { Database } from "../db/database.ts";
import { orderSymbol } from "../db/orders.ts";
import { withLease } from "../db/transaction.ts";
import {
  ACCOUNT_MISSING,
  EMPTY_TRANSACTIONS,
  errorAnswer,
  openedAnswer,
  openedDetailAnswer,
  type Pairs,
  refusalMessage,
  statusAnswer,
  UNKNOWN_ORDER,
  unknownElementAnswer,
} from "../xml/answers.ts";
import type { XmlElement } from "../xml/element.ts";
import type { Attributes, TransactionChild, UnknownElement } from "../xml/request.ts";
import { echo, failureMessage, guard, type RequestState } from "./operation_guard.ts";
import type { EngineAnswer, OrderEngine, SubmissionOrder } from "./order_engine.ts";
import type { StatusReader } from "./status_reader.ts";

/**
 * Where a request stands among its connection's requests, when several run at once
 * (src/server/request_handler_stream.ts): the connection's order for the engine, and whom to
 * tell once this request will queue no more operations (the next request may then queue its own).
 */
export interface RequestSequence {
  readonly order: SubmissionOrder;
  readonly released: () => void;
}

/** Runs the children of `<transactions>` requests. */
export class Transactions {
  readonly #db: Database;
  readonly #engine: OrderEngine;
  readonly #statuses: StatusReader;
  readonly #log: (line: string) => void;

  constructor(
    db: Database,
    engine: OrderEngine,
    statuses: StatusReader,
    log: (line: string) => void,
  ) {
    this.#db = db;
    this.#engine = engine;
    this.#statuses = statuses;
    this.#log = log;
  }

  /**
   * The answers of one `<transactions>` request, one per child, in document order. `sequence`:
   * its place among its connection's requests running at once; it is released as soon as the last
   * child has queued its operation (or needs none), before that operation is answered. (A request
   * that ends before, or fails, is released by the handler when it ends.)
   */
  async run(
    attributes: Attributes,
    children: ReadonlyArray<TransactionChild | UnknownElement>,
    state: RequestState,
    sequence?: RequestSequence,
  ): Promise<XmlElement[]> {
    if (children.length === 0) {
      return [errorAnswer(echo(attributes, ["id"]), EMPTY_TRANSACTIONS)];
    }
    // The children run one after another, and the request as a whole must be answered within
    // the operation timeout: they share one deadline. (Each had its own before, so a request of
    // several children could take longer: 13.1 s in the fault suite's blackhole, bound 12 s.)
    const deadline = performance.now() + this.#db.operationTimeoutMs;
    // One shared account check serves every kind of child: the rule is the same for all.
    const accountProblem = await this.#checkAccount(attributes.get("id"), state, deadline);
    const results: XmlElement[] = [];
    for (const [index, child] of children.entries()) {
      const echoed = echoFor(child);
      let answer: XmlElement | Promise<XmlElement>;
      if (child.kind === "unknown") {
        answer = unknownElementAnswer(
          echoed,
          child.name,
          "<transactions> holds <order>, <query> and <cancel>",
        );
      } else if (accountProblem !== undefined) {
        answer = errorAnswer(echoed, accountProblem);
      } else {
        const accountId = attributes.get("id")!;
        answer = guard(
          state,
          echoed,
          () => this.#transaction(accountId, child, deadline, sequence?.order),
          this.#log,
        );
      }
      if (index === children.length - 1) {
        // An order is queued in the engine by the synchronous start of the call above (a cancel
        // or query is not: requests holding them are never started before the previous one ends).
        sequence?.released();
      }
      results.push(await answer);
    }
    return results;
  }

  /**
   * Undefined if the account exists, else the message every child is answered with. Never
   * throws: an unexpected failure is answered per child too, like any other failure.
   */
  async #checkAccount(
    raw: string | undefined,
    state: RequestState,
    deadline: number,
  ): Promise<string | undefined> {
    const id = checkAccountId(raw);
    if (!id.ok) {
      return id.message;
    }
    try {
      return (await accountExists(this.#db, id.value, deadline)) ? undefined : ACCOUNT_MISSING;
    } catch (error) {
      return failureMessage(error, state, this.#log);
    }
  }

  async #transaction(
    accountId: string,
    child: TransactionChild,
    deadline: number,
    order: SubmissionOrder | undefined,
  ): Promise<XmlElement> {
    const echoed = echoFor(child);
    if (child.kind === "order") {
      return await this.#order(accountId, child, echoed, deadline, order);
    }
    const orderId = checkOrderId(child.attributes.get("id"));
    if (!orderId.ok) {
      return errorAnswer(echoed, orderId.message);
    }
    if (child.kind === "query") {
      const status = await this.#statuses.read({ orderId: orderId.value, accountId }, deadline);
      return status === undefined
        ? errorAnswer(echoed, UNKNOWN_ORDER)
        : statusAnswer("status", echoed, status);
    }
    // A cancel joins the queue of its order's book; the order is read again under its lock.
    const sym = await withLease(
      this.#db,
      (sql) => orderSymbol(sql, accountId, orderId.value),
      deadline,
    );
    if (sym === undefined) {
      return errorAnswer(echoed, UNKNOWN_ORDER);
    }
    const answer = await this.#engine.submit(
      {
        kind: "cancel",
        sym,
        accountId,
        orderId: BigInt(orderId.value),
      },
      deadline,
      order,
    );
    return this.#engineAnswer(answer, echoed, () => {
      throw new AssertionError("a cancel was answered as an opened order");
    });
  }

  /**
   * An `<order>`: validated in the order sym, amount, limit, then the optional tif, stp and ref;
   * an order with none of those three is the specification's and is answered exactly as it
   * specifies.
   */
  async #order(
    accountId: string,
    child: TransactionChild,
    echoed: Pairs,
    deadline: number,
    submissionOrder: SubmissionOrder | undefined,
  ): Promise<XmlElement> {
    const sym = checkSymbol(child.attributes.get("sym"));
    if (!sym.ok) {
      return errorAnswer(echoed, sym.message);
    }
    const amount = checkOrderAmount(child.attributes.get("amount"));
    if (!amount.ok) {
      return errorAnswer(echoed, amount.message);
    }
    const limit = checkLimitPrice(child.attributes.get("limit"));
    if (!limit.ok) {
      return errorAnswer(echoed, limit.message);
    }
    const tif = checkTimeInForce(child.attributes.get("tif"));
    if (!tif.ok) {
      return errorAnswer(echoed, tif.message);
    }
    const stp = checkSelfTradeMode(child.attributes.get("stp"));
    if (!stp.ok) {
      return errorAnswer(echoed, stp.message);
    }
    const ref = checkOrderRef(child.attributes.get("ref"));
    if (!ref.ok) {
      return errorAnswer(echoed, ref.message);
    }
    const side: Side = amount.value.units > 0n ? "buy" : "sell";
    const instructions = echo(child.attributes, INSTRUCTIONS);
    let op: BatchOrder = {
      kind: "order",
      sym: sym.value,
      accountId,
      side,
      shares: abs(amount.value),
      limit: limit.value,
    };
    // Only instructions the client sent: an order without them is the specification's order.
    if (child.attributes.has("tif")) {
      op = { ...op, tif: tif.value };
    }
    if (child.attributes.has("stp")) {
      op = { ...op, stp: stp.value };
    }
    if (ref.value !== undefined) {
      op = { ...op, ref: ref.value };
    }
    const answer = await this.#engine.submit(op, deadline, submissionOrder);
    const order = { sym: sym.value, amount: amount.value, limit: limit.value };
    if (answer.kind === "repeat") {
      // The order that holds the reference, as a query of it reads it now (after this batch).
      const status = await this.#statuses.read(
        { orderId: answer.id.toString(), accountId },
        deadline,
      );
      if (status === undefined) {
        throw new AssertionError(
          `order ${answer.id} holds a reference of ${accountId} but is not its`,
        );
      }
      return openedDetailAnswer(order, instructions, answer.id, status, true);
    }
    if (answer.kind === "opened" && answer.detail !== undefined) {
      return openedDetailAnswer(order, instructions, answer.id, answer.detail, false);
    }
    return this.#engineAnswer(
      answer,
      echoed,
      (opened) => openedAnswer(sym.value, amount.value, limit.value, opened),
    );
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
      case "repeat":
        throw new AssertionError("a repeated reference reached the plain answer");
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
      return echo(child.attributes, ["sym", "amount", "limit", ...INSTRUCTIONS]);
    case "query":
    case "cancel":
      return echo(child.attributes, ["id"]);
    case "unknown":
      return [...child.attributes];
  }
}

/** The optional attributes of `<order>` beyond the specification's, in the order they are written. */
const INSTRUCTIONS = ["tif", "stp", "ref"];
