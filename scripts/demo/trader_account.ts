/**
 * A simulated account: its id, its {@link Ledger}, and its orders that may still be open, each
 * with the number of its executions already counted. Every `<status>` and `<canceled>` answer
 * lists all of an order's executions, oldest first, so counting the ones seen keeps the ledger
 * exact whichever answer reports a fill first.
 */
import type { AnswerElement } from "../../src/client/parse_answer.ts";
import { type Decimal, ZERO } from "../../src/exchange/decimal.ts";
import { decimal, Ledger, type Side } from "./ledger.ts";

interface TrackedOrder {
  sym: string;
  side: Side;
  fillsCounted: number;
}

/** One account of the simulated market. */
export class TraderAccount {
  readonly id: string;
  readonly ledger: Ledger;
  readonly #orders = new Map<string, TrackedOrder>();

  constructor(id: string, ledger: Ledger) {
    this.id = id;
    this.ledger = ledger;
  }

  /** Ids of the orders not yet known to be closed, oldest first. */
  orderIds(): string[] {
    return [...this.#orders.keys()];
  }

  /** Starts following an order the server answered with `<opened id>`. */
  track(id: string, sym: string, side: Side): void {
    this.#orders.set(id, { sym, side, fillsCounted: 0 });
  }

  /**
   * Stops following an order whose query or cancel was refused: asking again would only be
   * refused again. (Its reservation, if any, is then missing from the ledger's view.)
   */
  forget(id: string): void {
    this.#orders.delete(id);
  }

  /**
   * Reads a `<status id>` or `<canceled id>` answer of one of this account's orders: counts its
   * new executions into the ledger and returns them with the shares still open (zero once it
   * is closed, and then the order is no longer followed). Throws on an answer about an order
   * it does not follow: that would be a simulator bug.
   */
  absorb(answer: AnswerElement): { open: Decimal; newFills: number } {
    const id = answer.attributes.id ?? "";
    const order = this.#orders.get(id);
    if (order === undefined) {
      throw new Error(`Account ${this.id} got <${answer.name} id="${id}"> for an unknown order`);
    }
    const fills = answer.children.filter((child) => child.name === "executed");
    const newFills = fills.slice(order.fillsCounted);
    for (const fill of newFills) {
      this.ledger.applyFill(
        order.sym,
        order.side,
        decimal(fill.attributes.shares ?? ""),
        decimal(fill.attributes.price ?? ""),
      );
    }
    order.fillsCounted = fills.length;
    // A <canceled> answer's inner <canceled> is the part just canceled: nothing stays open.
    const open = answer.name === "status"
      ? answer.children.find((child) => child.name === "open")
      : undefined;
    if (open === undefined) {
      this.#orders.delete(id);
      return { open: ZERO, newFills: newFills.length };
    }
    return { open: decimal(open.attributes.shares ?? ""), newFills: newFills.length };
  }
}
