/**
 * Runs the operations of one request, in document order, each in its own transaction, and
 * builds the answer elements. Validation happens here, before any transaction starts.
 */
import { AssertionError } from "../exchange/assert.ts";
import { formatDecimal } from "../exchange/decimal.ts";
import {
  checkAccountId,
  checkBalance,
  checkLimitPrice,
  checkOrderAmount,
  checkOrderId,
  checkShares,
  checkSymbol,
} from "../exchange/validation.ts";
import { accountExists, createAccount } from "../db/accounts.ts";
import type { Database } from "../db/database.ts";
import { errorCode, isRetryable, isTimeout, isUnavailable } from "../db/errors.ts";
import { cancelOrder, type OrderStatus, placeOrder, queryOrder } from "../db/orders.ts";
import { declareSymbol, mintShares } from "../db/symbols.ts";
import type { Outcome } from "../db/transaction.ts";
import { element, type XmlElement } from "../xml/element.ts";
import type {
  Attributes,
  CreateAccount,
  CreateSymbol,
  Request,
  TransactionChild,
  UnknownElement,
} from "../xml/request.ts";

export const SERVICE_UNAVAILABLE = "Service unavailable: the database cannot be reached, try again";

type Pairs = Array<[string, string]>;

/** Picks `names` from the request attributes, in that order, skipping absent ones (for echoes). */
function echo(attributes: Attributes, names: readonly string[]): Pairs {
  const pairs: Pairs = [];
  for (const name of names) {
    const value = attributes.get(name);
    if (value !== undefined) {
      pairs.push([name, value]);
    }
  }
  return pairs;
}

function errorElement(attributes: Pairs, message: string): XmlElement {
  return element("error", attributes, { text: message });
}

/** Executes requests against one database. */
export class ExchangeService {
  readonly #db: Database;
  readonly #log: (line: string) => void;

  constructor(db: Database, log: (line: string) => void = console.error) {
    this.#db = db;
    this.#log = log;
  }

  /** All answer elements for `request`, one per operation, in order. */
  async execute(request: Request): Promise<XmlElement[]> {
    // Once the database is found unreachable, the request's remaining operations are answered
    // at once instead of each waiting out its own connect timeout.
    const state = { unavailable: false };
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
            results.push(this.#unknown(child, "<create> holds <account> and <symbol>"));
            break;
        }
      }
      return results;
    }
    return await this.#transactions(request.attributes, request.children, state);
  }

  /** Runs one operation, turning database trouble into an `<error>` for that operation. */
  async #guard(
    state: { unavailable: boolean },
    echoed: Pairs,
    operation: () => Promise<XmlElement>,
  ): Promise<XmlElement> {
    if (state.unavailable) {
      return errorElement(echoed, SERVICE_UNAVAILABLE);
    }
    try {
      return await operation();
    } catch (error) {
      if (isUnavailable(error)) {
        state.unavailable = true;
        return errorElement(echoed, SERVICE_UNAVAILABLE);
      }
      if (isTimeout(error)) {
        return errorElement(echoed, "Operation timed out in the database and was rolled back");
      }
      if (isRetryable(error)) {
        return errorElement(
          echoed,
          "Operation kept conflicting with others and was rolled back; try again",
        );
      }
      const kind = error instanceof AssertionError
        ? "invariant violated"
        : `error ${errorCode(error)}`;
      this.#log(`operation failed (${kind}): ${(error as Error)?.stack ?? error}`);
      return errorElement(echoed, "Internal error: the operation was rolled back");
    }
  }

  #unknown(child: UnknownElement, expected: string): XmlElement {
    return errorElement([...child.attributes], `Unknown element <${child.name}>: ${expected}`);
  }

  async #createAccount(child: CreateAccount): Promise<XmlElement> {
    const echoed = echo(child.attributes, ["id"]);
    const id = checkAccountId(child.attributes.get("id"));
    if (!id.ok) {
      return errorElement(echoed, id.message);
    }
    const balance = checkBalance(child.attributes.get("balance"));
    if (!balance.ok) {
      return errorElement(echoed, balance.message);
    }
    const outcome = await createAccount(this.#db, id.value, balance.value);
    return outcome.ok
      ? element("created", [["id", id.value]])
      : errorElement(echoed, outcome.message);
  }

  async #createSymbol(child: CreateSymbol, state: { unavailable: boolean }): Promise<XmlElement[]> {
    const rawSym = child.attributes.get("sym");
    const symEcho: Pairs = rawSym === undefined ? [] : [["sym", rawSym]];
    const sym = checkSymbol(rawSym);
    if (child.children.length === 0) {
      // A <symbol> listing no accounts still declares the symbol: one answer for it.
      if (!sym.ok) {
        return [errorElement(symEcho, sym.message)];
      }
      const symbol = sym.value;
      return [
        await this.#guard(state, symEcho, async () => {
          await declareSymbol(this.#db, symbol);
          return element("created", [["sym", symbol]]);
        }),
      ];
    }
    const results: XmlElement[] = [];
    for (const account of child.children) {
      const echoed: Pairs = [...symEcho, ...echo(account.attributes, ["id"])];
      if (account.kind === "unknown") {
        results.push(
          errorElement(echoed, `Unknown element <${account.name}>: <symbol> holds <account>`),
        );
        continue;
      }
      if (!sym.ok) {
        results.push(errorElement(echoed, sym.message));
        continue;
      }
      const id = checkAccountId(account.attributes.get("id"));
      if (!id.ok) {
        results.push(errorElement(echoed, id.message));
        continue;
      }
      const shares = checkShares(account.text === "" ? undefined : account.text);
      if (!shares.ok) {
        results.push(errorElement(echoed, shares.message));
        continue;
      }
      const symbol = sym.value;
      results.push(
        await this.#guard(state, echoed, async () => {
          const outcome = await mintShares(this.#db, symbol, id.value, shares.value);
          return outcome.ok
            ? element("created", [["sym", symbol], ["id", id.value]])
            : errorElement(echoed, outcome.message);
        }),
      );
    }
    return results;
  }

  async #transactions(
    attributes: Attributes,
    children: ReadonlyArray<TransactionChild | UnknownElement>,
    state: { unavailable: boolean },
  ): Promise<XmlElement[]> {
    if (children.length === 0) {
      return [
        errorElement(
          echo(attributes, ["id"]),
          "<transactions> must hold at least one order, query or cancel",
        ),
      ];
    }
    // One shared account check serves every kind of child: the rule is the same for all.
    const accountProblem = await this.#checkTransactionsAccount(attributes.get("id"), state);
    const results: XmlElement[] = [];
    for (const child of children) {
      const echoed = echoFor(child);
      if (child.kind === "unknown") {
        results.push(this.#unknown(child, "<transactions> holds <order>, <query> and <cancel>"));
      } else if (accountProblem !== undefined) {
        results.push(errorElement(echoed, accountProblem));
      } else {
        const accountId = attributes.get("id")!;
        results.push(await this.#guard(state, echoed, () => this.#transaction(accountId, child)));
      }
    }
    return results;
  }

  /** Undefined if the account exists, else the message every child is refused with. */
  async #checkTransactionsAccount(
    raw: string | undefined,
    state: { unavailable: boolean },
  ): Promise<string | undefined> {
    const id = checkAccountId(raw);
    if (!id.ok) {
      return id.message;
    }
    try {
      return (await accountExists(this.#db, id.value)) ? undefined : "Account does not exist";
    } catch (error) {
      if (isUnavailable(error)) {
        state.unavailable = true;
        return SERVICE_UNAVAILABLE;
      }
      throw error;
    }
  }

  async #transaction(accountId: string, child: TransactionChild): Promise<XmlElement> {
    const echoed = echoFor(child);
    if (child.kind === "order") {
      const sym = checkSymbol(child.attributes.get("sym"));
      const amount = checkOrderAmount(child.attributes.get("amount"));
      const limit = checkLimitPrice(child.attributes.get("limit"));
      if (!sym.ok) {
        return errorElement(echoed, sym.message);
      }
      if (!amount.ok) {
        return errorElement(echoed, amount.message);
      }
      if (!limit.ok) {
        return errorElement(echoed, limit.message);
      }
      const outcome = await placeOrder(this.#db, {
        accountId,
        sym: sym.value,
        amount: amount.value,
        limit: limit.value,
      });
      if (!outcome.ok) {
        return errorElement(echoed, outcome.message);
      }
      return element("opened", [
        ["sym", sym.value],
        ["amount", formatDecimal(amount.value)],
        ["limit", formatDecimal(limit.value)],
        ["id", outcome.value.toString()],
      ]);
    }
    const orderId = checkOrderId(child.attributes.get("id"));
    if (!orderId.ok) {
      return errorElement(echoed, orderId.message);
    }
    if (child.kind === "query") {
      return statusElement("status", echoed, await queryOrder(this.#db, accountId, orderId.value));
    }
    return statusElement("canceled", echoed, await cancelOrder(this.#db, accountId, orderId.value));
  }
}

function echoFor(child: TransactionChild | UnknownElement): Pairs {
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

/** `<status id>` or `<canceled id>` with open/canceled first, then executions oldest first. */
function statusElement(
  name: "status" | "canceled",
  echoed: Pairs,
  outcome: Outcome<OrderStatus>,
): XmlElement {
  if (!outcome.ok) {
    return errorElement(echoed, outcome.message);
  }
  const status = outcome.value;
  const children: XmlElement[] = [];
  if (status.open !== undefined) {
    children.push(element("open", [["shares", status.open]]));
  }
  if (status.canceled !== undefined) {
    children.push(
      element("canceled", [["shares", status.canceled.shares], ["time", status.canceled.time]]),
    );
  }
  for (const execution of status.executions) {
    children.push(
      element("executed", [["shares", execution.shares], ["price", execution.price], [
        "time",
        execution.time,
      ]]),
    );
  }
  return element(name, echoed, { children });
}
