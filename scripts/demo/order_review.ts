/**
 * The requests that a simulated account sends about its own orders: look at every order that
 * may still be open (one `<query>` each, in one request), then cancel those that are (one
 * `<cancel>` each, in the request that also places what comes next). The simulator sends one
 * request at a time, so nothing trades between the query and the cancel: a cancel is only sent
 * for an order with shares open, and is never refused for having nothing to cancel.
 */
import type { AnswerElement } from "../../src/client/parse_answer.ts";
import { isPositive } from "../../src/exchange/decimal.ts";
import type { SimLink } from "./sim_link.ts";
import type { TraderAccount } from "./trader_account.ts";

/** A `<transactions>` request of `account` holding `children` (ids and symbols need no escaping). */
export function transactionsXml(account: TraderAccount, children: readonly string[]): string {
  return `<transactions id="${account.id}">${children.join("")}</transactions>`;
}

/** `<cancel>` elements for `ids`. */
export function cancelsXml(ids: readonly string[]): string[] {
  return ids.map((id) => `<cancel id="${id}"/>`);
}

/** What a review found: the orders with shares still open, and the fills not seen before. */
export interface Review {
  open: string[];
  newFills: number;
}

/**
 * Reads `answers` (`<status>` or `<canceled>`, one per id of `ids`, in order) into `account`.
 * An `<error>` (already counted by the link) makes the account stop following that order.
 */
export function absorbAnswers(
  account: TraderAccount,
  ids: readonly string[],
  answers: readonly AnswerElement[],
): Review {
  const review: Review = { open: [], newFills: 0 };
  ids.forEach((id, index) => {
    const answer = answers[index];
    if (answer === undefined || answer.name === "error") {
      account.forget(id);
      return;
    }
    const { open, newFills } = account.absorb(answer);
    review.newFills += newFills;
    if (isPositive(open)) {
      review.open.push(id);
    }
  });
  return review;
}

/** Queries every order `account` follows, in one request; counts their new fills. */
export async function reviewOrders(link: SimLink, account: TraderAccount): Promise<Review> {
  const ids = account.orderIds();
  if (ids.length === 0) {
    return { open: [], newFills: 0 };
  }
  const answers = await link.send(
    transactionsXml(account, ids.map((id) => `<query id="${id}"/>`)),
  );
  return absorbAnswers(account, ids, answers);
}
