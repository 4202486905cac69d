import { deepStrictEqual, throws } from "node:assert/strict";
import { formatDecimal, parseDecimal } from "../../src/exchange/decimal.ts";
import { matchOrder, type RestingOrder } from "../../src/exchange/matching.ts";
import { settle } from "../../src/exchange/settlement.ts";

function d(text: string) {
  const value = parseDecimal(text);
  if (typeof value === "string") throw new Error(text);
  return value;
}

function resting(id: number, accountId: string, open: string, limit: string): RestingOrder {
  return { id: BigInt(id), accountId, open: d(open), limit: d(limit) };
}

Deno.test("matchOrder fills best price first at the resting limit, partially on the last", () => {
  const book = [
    resting(3, "b", "200", "127"),
    resting(1, "a", "300", "125"),
    resting(6, "a", "400", "125"),
  ];
  const { fills, remaining } = matchOrder("sell", d("124"), d("400"), book);
  deepStrictEqual(
    fills.map((f) => `${f.resting.id}:${formatDecimal(f.shares)}@${formatDecimal(f.price)}`),
    ["3:200@127", "1:200@125"],
  );
  deepStrictEqual(formatDecimal(remaining), "0");
});

Deno.test("matchOrder stops at the first order that does not cross", () => {
  const book = [resting(2, "s", "100", "130"), resting(4, "s", "500", "140")];
  const { fills, remaining } = matchOrder("buy", d("135"), d("300"), book);
  deepStrictEqual(fills.map((f) => formatDecimal(f.shares)), ["100"]);
  deepStrictEqual(formatDecimal(remaining), "200");
});

Deno.test("matchOrder refuses a book out of priority order", () => {
  const book = [resting(5, "s", "1", "10"), resting(4, "s", "1", "10")];
  throws(() => matchOrder("buy", d("10"), d("2"), book), /out of priority order/);
});

Deno.test("settle reserves, pays the seller and refunds the buyer the price difference", () => {
  const book = [resting(2, "seller", "0.5", "100.25")];
  const { fills } = matchOrder("buy", d("101"), d("1"), book);
  const s = settle(
    { id: 9n, accountId: "buyer", side: "buy", shares: d("1"), limit: d("101") },
    fills,
  );
  // Buyer: -101 reserved, +0.375 refunded ((101 - 100.25) x 0.5) = -100.625.
  deepStrictEqual(formatDecimal(s.cash.get("buyer")!), "-100.625");
  deepStrictEqual(formatDecimal(s.cash.get("seller")!), "50.125");
  deepStrictEqual(formatDecimal(s.shares.get("buyer")!), "0.5");
  deepStrictEqual(formatDecimal(s.incomingOpen), "0.5");
  deepStrictEqual(s.executions.map((e) => [e.buyOrderId, e.sellOrderId]), [[9n, 2n]]);
});

Deno.test("settle of a self-trade nets to no change but the reservation left open", () => {
  const book = [resting(1, "a", "10", "5")];
  const { fills } = matchOrder("sell", d("5"), d("10"), book);
  const s = settle({ id: 2n, accountId: "a", side: "sell", shares: d("10"), limit: d("5") }, fills);
  // Seller gives 10 shares and gets them back as the buyer; gets 50 cash from its own resting buy.
  deepStrictEqual(s.shares.size, 0);
  deepStrictEqual(formatDecimal(s.cash.get("a")!), "50");
});

Deno.test("matchOrder with cancel-oldest passes over the account's own crossing orders and lists them", () => {
  const book = [
    resting(1, "me", "5", "10"),
    resting(2, "other", "3", "10"),
    resting(3, "me", "4", "11"),
    resting(4, "me", "9", "13"),
  ];
  const matched = matchOrder("buy", d("12"), d("6"), book, {
    accountId: "me",
    mode: "cancel-oldest",
  });
  deepStrictEqual(matched.fills.map((f) => [f.resting.id, formatDecimal(f.shares)]), [[2n, "3"]]);
  // Order 4 does not cross (13 > 12): it is not canceled.
  deepStrictEqual(matched.selfCanceled.map((r) => r.id), [1n, 3n]);
  deepStrictEqual([formatDecimal(matched.remaining), matched.stopped], ["3", false]);
});

Deno.test("matchOrder with cancel-newest stops at the account's first crossing order", () => {
  const book = [
    resting(1, "other", "2", "10"),
    resting(2, "me", "5", "10"),
    resting(3, "x", "9", "10"),
  ];
  const matched = matchOrder("buy", d("10"), d("6"), book, {
    accountId: "me",
    mode: "cancel-newest",
  });
  deepStrictEqual(matched.fills.map((f) => f.resting.id), [1n]);
  deepStrictEqual([formatDecimal(matched.remaining), matched.stopped], ["4", true]);
  deepStrictEqual(matched.selfCanceled, []);
  // With `none` the self-trade settles like any other.
  const none = matchOrder("buy", d("10"), d("6"), book, { accountId: "me", mode: "none" });
  deepStrictEqual(none.fills.map((f) => f.resting.id), [1n, 2n]);
});

Deno.test("settle with the rest canceled gives back its reservation as a cancel would", () => {
  const book = [resting(2, "seller", "3", "9")];
  const { fills } = matchOrder("buy", d("10"), d("5"), book);
  const s = settle(
    { id: 9n, accountId: "buyer", side: "buy", shares: d("5"), limit: d("10") },
    fills,
    true,
  );
  // Buyer: -50 reserved, +3 refunded ((10 - 9) x 3), +20 for the 2 canceled at 10 = -27.
  deepStrictEqual(formatDecimal(s.cash.get("buyer")!), "-27");
  deepStrictEqual([formatDecimal(s.incomingOpen), formatDecimal(s.incomingCanceled)], ["0", "2"]);
  const sell = settle(
    { id: 9n, accountId: "seller", side: "sell", shares: d("4"), limit: d("20") },
    [],
    true,
  );
  // Nothing filled: the 4 shares reserved come back, net nothing.
  deepStrictEqual([sell.shares.size, formatDecimal(sell.incomingCanceled)], [0, "4"]);
});
