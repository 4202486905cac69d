/**
 * The demo's order plans never ask for more than the account holds (so the exchange never has
 * to refuse them), makers' bids stay below their asks, and a taker crosses the fair price.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { add, compare, type Decimal, multiply, ZERO } from "../../src/exchange/decimal.ts";
import {
  centsDecimal,
  decimal,
  wholeSharesDecimal,
  wholeSharesFor,
} from "../../scripts/demo/ledger.ts";
import {
  orderXml,
  type PlannedOrder,
  planQuotes,
  planTake,
  type QuoteStyle,
} from "../../scripts/demo/quote_plan.ts";
import { seededRandom } from "../../scripts/support/seeded_random.ts";

const STYLE: QuoteStyle = {
  halfSpreadFraction: 0.001,
  levelGapFraction: 0.0005,
  levels: 5,
  sizeMin: 10,
  sizeMax: 40,
};

function bidCost(orders: PlannedOrder[]): Decimal {
  return orders.filter((o) => o.side === "buy").reduce(
    (sum, o) => add(sum, multiply(centsDecimal(o.priceCents), wholeSharesDecimal(o.shares))),
    ZERO,
  );
}

function askShares(orders: PlannedOrder[]): number {
  return orders.filter((o) => o.side === "sell").reduce((sum, o) => sum + o.shares, 0);
}

Deno.test("wholeSharesFor floors the exact quotient", () => {
  deepStrictEqual(wholeSharesFor(decimal("100"), 3334), 2); // 3 x 33.34 = 100.02
  deepStrictEqual(wholeSharesFor(decimal("100.02"), 3334), 3);
  deepStrictEqual(wholeSharesFor(decimal("0.5"), 1), 50);
  deepStrictEqual(wholeSharesFor(ZERO, 1), 0);
});

Deno.test("planQuotes keeps bids below asks and within the account's cash and shares", () => {
  const random = seededRandom(1);
  for (let round = 0; round < 500; round++) {
    const fairCents = 100 + Math.floor(random() * 50_000);
    const cash = decimal(String(Math.floor(random() * 20_000)));
    const shares = wholeSharesDecimal(Math.floor(random() * 300));
    const plan = planQuotes({ fairCents, cash, shares, targetShares: 150, random }, STYLE);
    ok(compare(bidCost(plan), cash) <= 0, `bids cost more than ${cash.units}`);
    ok(askShares(plan) <= Number(shares.units), "asks sell more than the position");
    const bids = plan.filter((o) => o.side === "buy").map((o) => o.priceCents);
    const asks = plan.filter((o) => o.side === "sell").map((o) => o.priceCents);
    ok(bids.every((bid) => bid > 0 && asks.every((ask) => bid < ask)), JSON.stringify(plan));
    ok(plan.every((o) => o.shares > 0));
  }
});

Deno.test("planQuotes quotes a full ladder on both sides when the account can afford it", () => {
  const plan = planQuotes({
    fairCents: 10_000,
    cash: decimal("1000000"),
    shares: wholeSharesDecimal(20_000),
    targetShares: 20_000,
    random: seededRandom(2),
  }, STYLE);
  deepStrictEqual(plan.filter((o) => o.side === "buy").length, 5);
  deepStrictEqual(plan.filter((o) => o.side === "sell").length, 5);
});

Deno.test("planTake crosses the fair price within what the account holds", () => {
  const random = seededRandom(3);
  for (let round = 0; round < 500; round++) {
    const fairCents = 100 + Math.floor(random() * 50_000);
    const cash = decimal(String(Math.floor(random() * 5_000)));
    const shares = wholeSharesDecimal(Math.floor(random() * 5));
    const order = planTake({ fairCents, cash, shares, targetShares: 2, random }, 300);
    if (order === undefined) {
      // Only when it can neither sell nor buy a share even at twice the fair price.
      deepStrictEqual([wholeSharesFor(cash, fairCents * 2), Number(shares.units)], [0, 0]);
      continue;
    }
    if (order.side === "buy") {
      ok(order.priceCents > fairCents);
      ok(
        compare(multiply(centsDecimal(order.priceCents), wholeSharesDecimal(order.shares)), cash) <=
          0,
      );
    } else {
      ok(order.priceCents < fairCents || order.priceCents === 1);
      ok(order.shares <= Number(shares.units));
    }
  }
});

Deno.test("orderXml writes a sell as a negative amount and adds the extra attributes last", () => {
  deepStrictEqual(
    orderXml("ACME", { side: "sell", priceCents: 12_340, shares: 7 }, ' tif="IOC"'),
    '<order sym="ACME" amount="-7" limit="123.4" tif="IOC"/>',
  );
  deepStrictEqual(
    orderXml("ACME", { side: "buy", priceCents: 5, shares: 1 }),
    '<order sym="ACME" amount="1" limit="0.05"/>',
  );
});
