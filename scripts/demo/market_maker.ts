/**
 * A simulated market maker on one symbol: keeps a ladder of bids and asks around the drifting
 * fair price. Each re-quote is two requests: a `<query>` of every quote it has out (which tells
 * it every fill since the last look), then one request that cancels the quotes still open and
 * places the new ladder. The cancels come first in that request, so their refunds are back in
 * the account before the new quotes reserve, and the new ladder is sized to the account's
 * ledger: a maker is never refused for insufficient funds or shares.
 */
import type { PlanInput, QuoteStyle } from "./quote_plan.ts";
import { orderXml, planQuotes } from "./quote_plan.ts";
import { absorbAnswers, cancelsXml, reviewOrders, transactionsXml } from "./order_review.ts";
import type { SimLink } from "./sim_link.ts";
import type { Tally } from "./tally.ts";
import type { TraderAccount } from "./trader_account.ts";

export class MarketMaker {
  readonly account: TraderAccount;
  readonly sym: string;
  readonly #style: QuoteStyle;
  readonly #targetShares: number;

  constructor(account: TraderAccount, sym: string, style: QuoteStyle, targetShares: number) {
    this.account = account;
    this.sym = sym;
    this.#style = style;
    this.#targetShares = targetShares;
  }

  /** Replaces the maker's quotes with a ladder around `fairCents`. */
  async requote(
    link: SimLink,
    tally: Tally,
    fairCents: number,
    random: () => number,
  ): Promise<void> {
    const review = await reviewOrders(link, this.account);
    const input: PlanInput = {
      fairCents,
      cash: this.account.ledger.cash,
      shares: this.account.ledger.shares(this.sym),
      targetShares: this.#targetShares,
      random,
    };
    // The ledger counts every fill of the quotes about to be canceled, so once they are, it is
    // what the account holds: the plan never asks for more.
    const plan = planQuotes(input, this.#style);
    const children = [...cancelsXml(review.open), ...plan.map((o) => orderXml(this.sym, o))];
    if (children.length === 0) {
      return;
    }
    const answers = await link.send(transactionsXml(this.account, children));
    absorbAnswers(this.account, review.open, answers);
    plan.forEach((order, index) => {
      const opened = answers[review.open.length + index];
      if (opened?.name === "opened" && opened.attributes.id !== undefined) {
        this.account.track(opened.attributes.id, this.sym, order.side);
      }
    });
    tally.count("cancels", review.open.length);
    tally.count("orders", plan.length);
  }
}
