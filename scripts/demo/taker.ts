/**
 * A simulated taker: sends an order whose limit crosses the spread, then makes sure nothing of
 * it rests: it queries the order (learning its fills) and cancels what is still open. That is
 * what an immediate-or-cancel order does in one step; this protocol has no such order yet.
 */
import { orderXml, type PlanInput, planTake } from "./quote_plan.ts";
import { absorbAnswers, cancelsXml, reviewOrders, transactionsXml } from "./order_review.ts";
import type { SimLink } from "./sim_link.ts";
import type { Tally } from "./tally.ts";
import type { TraderAccount } from "./trader_account.ts";

/**
 * Attributes added to every taker order: immediate-or-cancel (issue 20), so the server cancels
 * the unfilled rest itself; the query in `settle` then finds nothing open and sends no `<cancel>`
 * (with `""` the taker's rest would rest until that cancel).
 */
export const TAKER_ORDER_ATTRIBUTES = ' tif="IOC"';

/** Most shares in one taker order (most orders are much smaller, see `planTake`). */
const TAKER_SHARES_MAX = 300;

export class Taker {
  readonly account: TraderAccount;
  /** The position in each symbol the taker started with: where its inventory leans back to. */
  readonly #targetShares: number;

  constructor(account: TraderAccount, targetShares: number) {
    this.account = account;
    this.#targetShares = targetShares;
  }

  /** One crossing order on `sym`, then nothing of it left resting. */
  async trade(
    link: SimLink,
    tally: Tally,
    sym: string,
    fairCents: number,
    random: () => number,
  ): Promise<void> {
    const input: PlanInput = {
      fairCents,
      cash: this.account.ledger.cash,
      shares: this.account.ledger.shares(sym),
      targetShares: this.#targetShares,
      random,
    };
    const order = planTake(input, TAKER_SHARES_MAX);
    if (order === undefined) {
      return;
    }
    const [opened] = await link.send(
      transactionsXml(this.account, [orderXml(sym, order, TAKER_ORDER_ATTRIBUTES)]),
    );
    tally.count("orders");
    if (opened?.name === "opened" && opened.attributes.id !== undefined) {
      this.account.track(opened.attributes.id, sym, order.side);
    }
    await this.settle(link, tally);
  }

  /**
   * Queries every order the taker follows and cancels what is open, so that its ledger is its
   * holding again. Normally that is the one order just sent; after a lost answer, also any
   * order left over from before.
   */
  async settle(link: SimLink, tally: Tally): Promise<void> {
    const review = await reviewOrders(link, this.account);
    let fills = review.newFills;
    if (review.open.length > 0) {
      const answers = await link.send(transactionsXml(this.account, cancelsXml(review.open)));
      fills += absorbAnswers(this.account, review.open, answers).newFills;
      tally.count("cancels", review.open.length);
    }
    tally.count("takerFills", fills);
  }
}
