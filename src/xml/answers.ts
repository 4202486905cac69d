/**
 * The answer elements of operations and the text of every `<error>` the service writes for a
 * refusal or a failure: one module, so that element names and messages are written once.
 * (Messages about unreadable input live with the parser and the frame decoder, and validation
 * messages with src/exchange/validation.ts.)
 */
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Refusal } from "../exchange/refusal.ts";
import { element, type XmlElement } from "./element.ts";

/** Attribute pairs in the order they are written. */
export type Pairs = ReadonlyArray<readonly [string, string]>;

/** The database cannot be reached (or cannot serve now); nothing of the operation happened. */
export const SERVICE_UNAVAILABLE = "Service unavailable: the database cannot be reached, try again";
/**
 * The connection to the database broke while the operation's COMMIT was in flight, and the
 * database could not be asked what happened before the operation's deadline: it may or may not
 * have taken effect. Never "nothing happened": the client looks before it retries.
 */
export const OUTCOME_UNKNOWN = "Outcome unknown: the database stopped answering during COMMIT; " +
  "this may or may not have taken effect, check before retrying";
/** statement_timeout canceled the operation's transaction. */
export const TIMED_OUT = "Operation timed out in the database and was rolled back";
/** Deadlocks, serialization failures or changed balances exhausted the reruns. */
export const KEPT_CONFLICTING =
  "Operation kept conflicting with others and was rolled back; try again";
/** A bug: the operation's transaction was rolled back. */
export const INTERNAL_ERROR = "Internal error: the operation was rolled back";
/** A bug outside any operation: the request as a whole could not be answered. */
export const REQUEST_FAILED = "Internal error: the request could not be completed";
/** A bug after COMMIT: the operation took effect, but its answer could not be built. */
export const INTERNAL_ERROR_COMMITTED =
  "Internal error: the operation was committed but its answer could not be built; query it";
/** Same message for an unknown id and another account's id: ids of others stay secret. */
export const UNKNOWN_ORDER = "Unknown transaction id for this account";
export const NOTHING_OPEN = "Order has nothing open to cancel";
export const ACCOUNT_MISSING = "Account does not exist";
export const ACCOUNT_EXISTS = "Account already exists";
export const EMPTY_TRANSACTIONS = "<transactions> must hold at least one order, query or cancel";

/** The `<error>` text of a refusal. */
export function refusalMessage(refusal: Refusal): string {
  switch (refusal.kind) {
    case "unknown_symbol":
      return `Unknown symbol ${refusal.sym}`;
    case "insufficient_funds":
      return `Insufficient funds: order needs ${formatDecimal(refusal.needed)} but balance is ${
        formatDecimal(refusal.balance)
      }`;
    case "insufficient_shares":
      return `Insufficient shares: order sells ${
        formatDecimal(refusal.needed)
      } of ${refusal.sym} ` +
        `but position is ${formatDecimal(refusal.position)}`;
    case "unknown_order":
      return UNKNOWN_ORDER;
    case "nothing_open":
      return NOTHING_OPEN;
    case "fill_or_kill":
      return `Fill or kill: only ${formatDecimal(refusal.filled)} of ${
        formatDecimal(refusal.shares)
      } shares could fill at once; nothing was done`;
    case "ref_mismatch":
      return `Ref ${refusal.ref} was already used by order ${refusal.orderId} with other values`;
  }
}

/** `<error ...echoed>message</error>`. */
export function errorAnswer(echoed: Pairs, message: string): XmlElement {
  return element("error", echoed, { text: message });
}

/** `<unknown element>` inside a request: an error in its position. */
export function unknownElementAnswer(echoed: Pairs, name: string, expected: string): XmlElement {
  return errorAnswer(echoed, `Unknown element <${name}>: ${expected}`);
}

/** `<created id/>`, `<created sym/>` or `<created sym id/>`. */
export function createdAnswer(attributes: Pairs): XmlElement {
  return element("created", attributes);
}

/** `<opened sym amount limit id/>`, numbers written canonically. */
export function openedAnswer(sym: string, amount: Decimal, limit: Decimal, id: bigint): XmlElement {
  return element("opened", [
    ["sym", sym],
    ["amount", formatDecimal(amount)],
    ["limit", formatDecimal(limit)],
    ["id", id.toString()],
  ]);
}

/**
 * `<opened sym amount limit [tif] [stp] [ref] id [repeated]>` holding the order's state, for an
 * order that carries instructions beyond the specification's (`instructions`, as sent): its
 * state right after it ran, or, `repeated`, the state of the order that already held its
 * reference, as a `<query>` of it would show it.
 */
export function openedDetailAnswer(
  order: { readonly sym: string; readonly amount: Decimal; readonly limit: Decimal },
  instructions: Pairs,
  id: bigint,
  status: StatusView,
  repeated: boolean,
): XmlElement {
  const attributes: Array<readonly [string, string]> = [
    ["sym", order.sym],
    ["amount", formatDecimal(order.amount)],
    ["limit", formatDecimal(order.limit)],
    ...instructions,
    ["id", id.toString()],
  ];
  if (repeated) {
    attributes.push(["repeated", "true"]);
  }
  return element("opened", attributes, { children: statusChildren(status) });
}

/** An order's state as `<status>` and `<canceled>` answers show it. */
export interface StatusView {
  readonly open: string | undefined;
  readonly canceled: { readonly shares: string; readonly time: string } | undefined;
  readonly executions: ReadonlyArray<
    { readonly shares: string; readonly price: string; readonly time: string }
  >;
}

/** `<status id>` or `<canceled id>`: open or canceled first, then executions oldest first. */
export function statusAnswer(
  name: "status" | "canceled",
  echoed: Pairs,
  status: StatusView,
): XmlElement {
  return element(name, echoed, { children: statusChildren(status) });
}

/** Open or canceled first, then executions oldest first. */
function statusChildren(status: StatusView): XmlElement[] {
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
    children.push(element("executed", [
      ["shares", execution.shares],
      ["price", execution.price],
      ["time", execution.time],
    ]));
  }
  return children;
}
