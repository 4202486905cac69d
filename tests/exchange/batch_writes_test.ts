import { deepStrictEqual } from "node:assert/strict";
import { batchWrites } from "../../src/exchange/batch_writes.ts";
import { NEW_ORDER_BASE } from "../../src/exchange/batch_types.ts";
import { type Decimal, decimalFromDatabase, formatDecimal } from "../../src/exchange/decimal.ts";

const d = (text: string): Decimal => decimalFromDatabase(text);

/** Decimals as text, so that the comparison reads like the numbers. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v) => {
    if (typeof v === "bigint") {
      return v.toString();
    }
    if (v !== null && typeof v === "object" && "units" in v && "scale" in v) {
      return formatDecimal(v as Decimal);
    }
    return v;
  }));
}

Deno.test("batchWrites turns a decision into one typed settlement with its lock set", () => {
  // Account 1 buys 3 X @ 10 from account 2's resting sell (order 7), which stays open with 2.
  const writes = batchWrites(["X"], {
    kind: "decided",
    results: [{ kind: "opened", ordinal: 0 }],
    rowsSwept: 1,
    newOrders: [{
      sym: "X",
      accountId: "1",
      side: "buy",
      shares: d("3"),
      limit: d("10"),
      open: d("0"),
      canceled: d("0"),
      tif: "GTC",
      stp: "none",
      ref: undefined,
    }],
    storedChanges: new Map([[7n, { open: d("2"), canceled: d("0") }]]),
    executions: [{ buyRef: NEW_ORDER_BASE, sellRef: 7n, shares: d("3"), price: d("10") }],
    cash: new Map([["1", d("-30")], ["2", d("30")]]),
    shares: new Map([["X", new Map([["1", d("3")]])]]),
    reliedBalances: new Map([["1", d("100")]]),
  });
  deepStrictEqual(plain(writes), {
    syms: ["X"],
    lockIds: ["1", "2"],
    checkedBalances: [{ accountId: "1", balance: "100" }],
    newOrders: [{
      sym: "X",
      accountId: "1",
      amount: "3",
      limit: "10",
      open: "0",
      canceled: "0",
      tif: "GTC",
      stp: "none",
    }],
    changedOrders: [{ id: "7", open: "2", canceled: "0" }],
    executions: [{ buyRef: NEW_ORDER_BASE.toString(), sellRef: "7", shares: "3", price: "10" }],
    cash: [{ accountId: "1", delta: "-30" }, { accountId: "2", delta: "30" }],
    positionCredits: [{ accountId: "1", sym: "X", delta: "3" }],
    positionDebits: [],
  });
});

Deno.test("batchWrites signs a sell's amount and parts growing from shrinking positions", () => {
  const writes = batchWrites(["X", "Y"], {
    kind: "decided",
    results: [],
    rowsSwept: 0,
    newOrders: [{
      sym: "Y",
      accountId: "4",
      side: "sell",
      shares: d("5"),
      limit: d("2.5"),
      open: d("5"),
      canceled: d("0"),
      tif: "IOC",
      stp: "cancel-oldest",
      ref: "r-1",
    }],
    storedChanges: new Map(),
    executions: [],
    cash: new Map(),
    shares: new Map([["Y", new Map([["4", d("-5")]])], ["X", new Map([["5", d("1")]])]]),
    reliedBalances: new Map(),
  });
  deepStrictEqual(plain(writes.newOrders), [
    {
      sym: "Y",
      accountId: "4",
      amount: "-5",
      limit: "2.5",
      open: "5",
      canceled: "0",
      tif: "IOC",
      stp: "cancel-oldest",
      ref: "r-1",
    },
  ]);
  deepStrictEqual(plain(writes.positionDebits), [{ accountId: "4", sym: "Y", delta: "-5" }]);
  deepStrictEqual(plain(writes.positionCredits), [{ accountId: "5", sym: "X", delta: "1" }]);
  deepStrictEqual(writes.lockIds, ["4", "5"]);
});
