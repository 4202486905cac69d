/**
 * Matching through the wire: partial fills, price-time priority, execution price, refunds,
 * proceeds, fractional values, self-trades and a match that reads several pages of the book.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { startTestServer } from "../support/harness.ts";
import {
  balanceOf,
  createAccounts,
  mint,
  placeOrder,
  query,
  sharesOf,
  show,
  timeWindow,
  transact,
} from "./exchange_fixture.ts";

Deno.test("an incoming buy larger than the resting sell fills it and rests the remainder", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    const sell = await placeOrder(port, "2", "X", "-100", "10");
    const buy = await placeOrder(port, "1", "X", "150", "10"); // reserves 1500
    strictEqual(
      await query(port, "2", sell, w),
      `status{id=${sell}}[executed{shares=100,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[open{shares=50} executed{shares=100,price=10,time=T}]`,
    );
    // Buyer: 10000 - 1500 (reservation of 150 x 10); no refund at its own limit: 8500.
    strictEqual(await balanceOf(sql, "1"), "8500");
    strictEqual(await sharesOf(sql, "1", "X"), "100");
    // Seller: 100 x 10 = 1000 proceeds.
    strictEqual(await balanceOf(sql, "2"), "1000");
    strictEqual(await sharesOf(sql, "2", "X"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("an incoming sell smaller than the resting buy fills part of it", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    const buy = await placeOrder(port, "1", "X", "100", "10"); // reserves 1000
    const sell = await placeOrder(port, "2", "X", "-40", "10");
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[open{shares=60} executed{shares=40,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "2", sell, w),
      `status{id=${sell}}[executed{shares=40,price=10,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "9000");
    strictEqual(await sharesOf(sql, "1", "X"), "40");
    strictEqual(await balanceOf(sql, "2"), "400");
    strictEqual(await sharesOf(sql, "2", "X"), "60");
  } finally {
    await server.close();
  }
});

Deno.test("an incoming sell larger than the resting buy fills it and rests the remainder", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    const buy = await placeOrder(port, "1", "X", "30", "10");
    const sell = await placeOrder(port, "2", "X", "-100", "9");
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[executed{shares=30,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "2", sell, w),
      `status{id=${sell}}[open{shares=70} executed{shares=30,price=10,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "9700");
    strictEqual(await balanceOf(sql, "2"), "300");
    strictEqual(await sharesOf(sql, "2", "X"), "0");
    strictEqual(await sharesOf(sql, "1", "X"), "30");
    // The resting remainder of the sell fills the next buy at 9, its own limit.
    const next = await placeOrder(port, "1", "X", "70", "9.5"); // reserves 665, refund 0.5 x 70 = 35
    strictEqual(
      await query(port, "1", next, w),
      `status{id=${next}}[executed{shares=70,price=9,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "9070"); // 9700 - 665 + 35
    strictEqual(await balanceOf(sql, "2"), "930"); // 300 + 630
  } finally {
    await server.close();
  }
});

Deno.test("a partly filled resting order keeps its time priority", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "1000" });
    const first = await placeOrder(port, "1", "X", "100", "10");
    const second = await placeOrder(port, "1", "X", "100", "10");
    await placeOrder(port, "2", "X", "-40", "10"); // first: 60 left
    await placeOrder(port, "2", "X", "-100", "10"); // first: 60, then second: 40
    strictEqual(
      await query(port, "1", first, w),
      `status{id=${first}}[executed{shares=40,price=10,time=T} executed{shares=60,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "1", second, w),
      `status{id=${second}}[open{shares=60} executed{shares=40,price=10,time=T}]`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("an incoming buy fills the lowest sell first, then the oldest at the same price", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "100000", "2": "0", "3": "0" });
    await mint(port, "X", { "2": "1000", "3": "1000" });
    const at12 = await placeOrder(port, "2", "X", "-100", "12"); // oldest but worst price
    const at10a = await placeOrder(port, "3", "X", "-100", "10");
    const at10b = await placeOrder(port, "2", "X", "-100", "10");
    const at11 = await placeOrder(port, "3", "X", "-100", "11");
    const at13 = await placeOrder(port, "2", "X", "-100", "13"); // does not cross 12
    // Buys 350 at 12: 100 @ 10 (a), 100 @ 10 (b), 100 @ 11, 50 @ 12.
    const buy = await placeOrder(port, "1", "X", "350", "12");
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[executed{shares=100,price=10,time=T} executed{shares=100,price=10,time=T} ` +
        `executed{shares=100,price=11,time=T} executed{shares=50,price=12,time=T}]`,
    );
    strictEqual(
      await query(port, "3", at10a, w),
      `status{id=${at10a}}[executed{shares=100,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "2", at10b, w),
      `status{id=${at10b}}[executed{shares=100,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "3", at11, w),
      `status{id=${at11}}[executed{shares=100,price=11,time=T}]`,
    );
    strictEqual(
      await query(port, "2", at12, w),
      `status{id=${at12}}[open{shares=50} executed{shares=50,price=12,time=T}]`,
    );
    strictEqual(await query(port, "2", at13), `status{id=${at13}}[open{shares=100}]`);
    // Buyer reserved 350 x 12 = 4200, paid 1000 + 1000 + 1100 + 600 = 3700: refund 500.
    strictEqual(await balanceOf(sql, "1"), "96300");
    strictEqual(await sharesOf(sql, "1", "X"), "350");
    strictEqual(await balanceOf(sql, "2"), "1600"); // 1000 (b) + 600 (50 @ 12)
    strictEqual(await balanceOf(sql, "3"), "2100"); // 1000 (a) + 1100
  } finally {
    await server.close();
  }
});

Deno.test("an incoming sell fills the highest buy first, then the oldest at the same price", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "100000", "2": "100000", "3": "0" });
    await mint(port, "X", { "3": "1000" });
    const at9 = await placeOrder(port, "1", "X", "100", "9"); // oldest but worst price
    const at11a = await placeOrder(port, "2", "X", "100", "11");
    const at11b = await placeOrder(port, "1", "X", "100", "11");
    const at10 = await placeOrder(port, "2", "X", "100", "10");
    const at8 = await placeOrder(port, "1", "X", "100", "8"); // does not cross 9
    // Sells 350 at 9: 100 @ 11 (a), 100 @ 11 (b), 100 @ 10, 50 @ 9.
    const sell = await placeOrder(port, "3", "X", "-350", "9");
    strictEqual(
      await query(port, "3", sell, w),
      `status{id=${sell}}[executed{shares=100,price=11,time=T} executed{shares=100,price=11,time=T} ` +
        `executed{shares=100,price=10,time=T} executed{shares=50,price=9,time=T}]`,
    );
    strictEqual(
      await query(port, "2", at11a, w),
      `status{id=${at11a}}[executed{shares=100,price=11,time=T}]`,
    );
    strictEqual(
      await query(port, "1", at11b, w),
      `status{id=${at11b}}[executed{shares=100,price=11,time=T}]`,
    );
    strictEqual(
      await query(port, "2", at10, w),
      `status{id=${at10}}[executed{shares=100,price=10,time=T}]`,
    );
    strictEqual(
      await query(port, "1", at9, w),
      `status{id=${at9}}[open{shares=50} executed{shares=50,price=9,time=T}]`,
    );
    strictEqual(await query(port, "1", at8), `status{id=${at8}}[open{shares=100}]`);
    // Seller proceeds: 1100 + 1100 + 1000 + 450 = 3650, all at the resting buys' limits.
    strictEqual(await balanceOf(sql, "3"), "3650");
    strictEqual(await sharesOf(sql, "3", "X"), "650");
    // Resting buys pay their own limits: no refunds. Account 1 reserved 900 + 1100 + 800.
    strictEqual(await balanceOf(sql, "1"), "97200");
    strictEqual(await sharesOf(sql, "1", "X"), "150");
    strictEqual(await balanceOf(sql, "2"), "97900"); // reserved 1100 + 1000
    strictEqual(await sharesOf(sql, "2", "X"), "200");
  } finally {
    await server.close();
  }
});

Deno.test("a buy executing below its limit pays the resting sell's price and gets the difference back", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "5" });
    await mint(port, "X", { "2": "100" });
    await placeOrder(port, "2", "X", "-100", "90");
    const buy = await placeOrder(port, "1", "X", "100", "100");
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[executed{shares=100,price=90,time=T}]`,
    );
    // Reserved 100 x 100 = 10000, paid 9000, refunded (100 - 90) x 100 = 1000.
    strictEqual(await balanceOf(sql, "1"), "1000");
    strictEqual(await balanceOf(sql, "2"), "9005"); // 5 + 9000
    strictEqual(await sharesOf(sql, "1", "X"), "100");
  } finally {
    await server.close();
  }
});

Deno.test("a sell executing below a resting buy's limit earns the buy's limit", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    await placeOrder(port, "1", "X", "100", "100");
    const sell = await placeOrder(port, "2", "X", "-100", "90");
    strictEqual(
      await query(port, "2", sell, w),
      `status{id=${sell}}[executed{shares=100,price=100,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "2"), "10000");
    strictEqual(await balanceOf(sql, "1"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("fractional shares and prices are exact: 0.5 shares at 100.25", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "100", "2": "0.1" });
    await mint(port, "X", { "2": "1.5" });
    const sell = await placeOrder(port, "2", "X", "-0.5", "100.25");
    const answer = await transact(port, "1", `<order sym="X" amount="0.500" limit="100.50"/>`);
    const buy = answer[0]!.attributes.id!;
    strictEqual(show(answer[0]!), `opened{sym=X,amount=0.5,limit=100.5,id=${buy}}`);
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[executed{shares=0.5,price=100.25,time=T}]`,
    );
    strictEqual(
      await query(port, "2", sell, w),
      `status{id=${sell}}[executed{shares=0.5,price=100.25,time=T}]`,
    );
    // Reserved 0.5 x 100.5 = 50.25, paid 0.5 x 100.25 = 50.125, refunded 0.125: 100 - 50.125.
    strictEqual(await balanceOf(sql, "1"), "49.875");
    strictEqual(await sharesOf(sql, "1", "X"), "0.5");
    strictEqual(await balanceOf(sql, "2"), "50.225"); // 0.1 + 50.125
    strictEqual(await sharesOf(sql, "2", "X"), "1");

    // Tiny values: 0.001 shares at 0.333 cost 0.000333; 0.3 x 0.1 is 0.03, not 0.030000000000000002.
    await placeOrder(port, "2", "X", "-0.001", "0.333");
    await placeOrder(port, "2", "X", "-0.3", "0.1");
    const small = await placeOrder(port, "1", "X", "0.301", "0.4"); // reserves 0.1204
    strictEqual(
      await query(port, "1", small, w),
      `status{id=${small}}[executed{shares=0.3,price=0.1,time=T} executed{shares=0.001,price=0.333,time=T}]`,
    );
    // Paid 0.03 + 0.000333 = 0.030333: 49.875 - 0.030333 = 49.844667.
    strictEqual(await balanceOf(sql, "1"), "49.844667");
    strictEqual(await balanceOf(sql, "2"), "50.255333");
    strictEqual(await sharesOf(sql, "1", "X"), "0.801");
    strictEqual(await sharesOf(sql, "2", "X"), "0.699");
  } finally {
    await server.close();
  }
});

Deno.test("a self-trade conserves the account's cash and shares", async () => {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000" });
    await mint(port, "X", { "1": "10" });
    const sell = await placeOrder(port, "1", "X", "-10", "50");
    strictEqual(await sharesOf(sql, "1", "X"), "0");
    const buy = await placeOrder(port, "1", "X", "10", "60");
    strictEqual(
      await query(port, "1", sell, w),
      `status{id=${sell}}[executed{shares=10,price=50,time=T}]`,
    );
    strictEqual(
      await query(port, "1", buy, w),
      `status{id=${buy}}[executed{shares=10,price=50,time=T}]`,
    );
    // 1000 - 600 (reservation) + 500 (proceeds) + 100 (refund) = 1000.
    strictEqual(await balanceOf(sql, "1"), "1000");
    strictEqual(await sharesOf(sql, "1", "X"), "10");
    // And the other way round, partly: a resting buy met by the same account's sell.
    const buy2 = await placeOrder(port, "1", "X", "4", "25"); // 1000 - 100 = 900
    const sell2 = await placeOrder(port, "1", "X", "-6", "20"); // 4 fill at 25: +100; 2 rest
    strictEqual(
      await query(port, "1", buy2, w),
      `status{id=${buy2}}[executed{shares=4,price=25,time=T}]`,
    );
    strictEqual(
      await query(port, "1", sell2, w),
      `status{id=${sell2}}[open{shares=2} executed{shares=4,price=25,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "1000");
    strictEqual(await sharesOf(sql, "1", "X"), "8"); // 2 reserved by the open sell
  } finally {
    await server.close();
  }
});

Deno.test("orders of other symbols never match", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    await createAccounts(port, { "1": "1000", "2": "0" });
    await mint(port, "X", { "2": "10" });
    await mint(port, "Y", { "2": "10" });
    const sellY = await placeOrder(port, "2", "Y", "-10", "1");
    const buyX = await placeOrder(port, "1", "X", "10", "5");
    strictEqual(await query(port, "1", buyX), `status{id=${buyX}}[open{shares=10}]`);
    strictEqual(await query(port, "2", sellY), `status{id=${sellY}}[open{shares=10}]`);
  } finally {
    await server.close();
  }
});

/**
 * Places 90 resting orders of `restingSide` from accounts 2 and 3 (interleaved, prices 100..106
 * scrambled so that equal prices straddle page boundaries, sizes 1..3), then one incoming order
 * from account 1 that crosses all but the worst price level and leaves 2 crossing shares open.
 */
async function checkDeepMatch(restingSide: "buy" | "sell"): Promise<void> {
  const server = await startTestServer();
  try {
    const w = timeWindow();
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000000", "2": "1000000", "3": "1000000" });
    await mint(port, "X", { "1": "10000", "2": "10000", "3": "10000" });
    const sign = restingSide === "sell" ? "-" : "";
    type Resting = { id: bigint; account: string; shares: number; price: number };
    const book: Resting[] = [];
    for (let batch = 0; batch < 2; batch++) {
      for (const account of ["2", "3"]) {
        const specs: Array<{ shares: number; price: number }> = [];
        for (let k = 0; k < 23 && book.length + specs.length < 90; k++) {
          const i = book.length + specs.length;
          specs.push({ shares: 1 + (i % 3), price: 100 + ((i * 5) % 7) });
        }
        const answer = await transact(
          port,
          account,
          specs.map((s) => `<order sym="X" amount="${sign}${s.shares}" limit="${s.price}"/>`).join(
            "",
          ),
        );
        strictEqual(answer.length, specs.length);
        answer.forEach((opened, k) => {
          strictEqual(opened.name, "opened", opened.text);
          book.push({ id: BigInt(opened.attributes.id!), account, ...specs[k]! });
        });
      }
    }
    strictEqual(book.length, 90);
    // An incoming buy at 105 meets sells at 100..105, lowest first; an incoming sell at 101
    // meets buys at 101..106, highest first. Ties: lowest id first.
    const limit = restingSide === "sell" ? 105 : 101;
    const crossing = book
      .filter((r) => restingSide === "sell" ? r.price <= limit : r.price >= limit)
      .sort((a, b) =>
        (restingSide === "sell" ? a.price - b.price : b.price - a.price) || (a.id < b.id ? -1 : 1)
      );
    ok(crossing.length > 40, "the match must read at least three pages (8, then 32 each)");
    const wanted = crossing.reduce((sum, r) => sum + r.shares, 0) - 2;
    const expected: string[] = [];
    let left = wanted;
    let value = 0;
    const cash: Record<string, number> = { "2": 0, "3": 0 };
    for (const r of crossing) {
      const shares = Math.min(left, r.shares);
      if (shares === 0) {
        break;
      }
      expected.push(`executed{shares=${shares},price=${r.price},time=T}`);
      value += shares * r.price;
      cash[r.account]! += restingSide === "sell" ? shares * r.price : 0;
      left -= shares;
    }
    const before = { "2": await balanceOf(sql, "2"), "3": await balanceOf(sql, "3") };
    const incoming = await placeOrder(
      port,
      "1",
      "X",
      `${restingSide === "sell" ? "" : "-"}${wanted}`,
      String(limit),
    );
    strictEqual(
      await query(port, "1", incoming, w),
      `status{id=${incoming}}[${expected.join(" ")}]`,
    );
    // Integers well below 2^53: exact in JavaScript numbers.
    if (restingSide === "sell") {
      // The buyer pays each resting sell's price: 1000000 - value (the refund settles the rest).
      strictEqual(await balanceOf(sql, "1"), String(1000000 - value));
      strictEqual(await sharesOf(sql, "1", "X"), String(10000 + wanted));
      strictEqual(await balanceOf(sql, "2"), String(1000000 + cash["2"]!));
      strictEqual(await balanceOf(sql, "3"), String(1000000 + cash["3"]!));
    } else {
      // The seller earns each resting buy's limit; the buyers' cash was reserved when they rested.
      strictEqual(await balanceOf(sql, "1"), String(1000000 + value));
      strictEqual(await sharesOf(sql, "1", "X"), String(10000 - wanted));
      deepStrictEqual({ "2": await balanceOf(sql, "2"), "3": await balanceOf(sql, "3") }, before);
    }
    // Exactly 2 crossing shares stay open, on the last orders in priority order.
    const side = restingSide === "sell"
      ? sql`amount < 0 AND limit_price <= ${limit}`
      : sql`amount > 0 AND limit_price >= ${limit}`;
    const [open] =
      await sql`SELECT coalesce(sum(open_shares), 0)::text AS open FROM orders WHERE account_id <> '1' AND ${side}`;
    strictEqual(open!.open, "2");
  } finally {
    await server.close();
  }
}

Deno.test("an incoming buy consuming more than 32 resting sells fills across pages in priority order", async () => {
  await checkDeepMatch("sell");
});

Deno.test("an incoming sell consuming more than 32 resting buys fills across pages in priority order", async () => {
  await checkDeepMatch("buy");
});
