/** The worked example of docs/PROTOCOL.md, orders 1 to 7 on symbol X, asserted exactly. */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { startTestServer } from "../support/harness.ts";
import {
  balanceOf,
  createAccounts,
  mint,
  placeOrder,
  query,
  sharesOf,
  timeWindow,
} from "./exchange_fixture.ts";

Deno.test("worked example: order 7 fills 200 at 127 against order 3, then 200 at 125 against order 1", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    // Buyer 100 places the buys, seller 200 the resting sells, seller 300 the incoming sell 7.
    await createAccounts(port, { "100": "200000", "200": "1000", "300": "0" });
    await mint(port, "X", { "200": "2000", "300": "400" });

    // A fresh database: transaction ids start at 1, so they are the example's numbers.
    deepStrictEqual(
      [
        await placeOrder(port, "100", "X", "300", "125"), // 1: reserves 300 x 125 = 37500
        await placeOrder(port, "200", "X", "-100", "130"), // 2: reserves 100 shares
        await placeOrder(port, "100", "X", "200", "127"), // 3: reserves 200 x 127 = 25400
        await placeOrder(port, "200", "X", "-500", "128"), // 4: reserves 500 shares
        await placeOrder(port, "200", "X", "-200", "140"), // 5: reserves 200 shares
        await placeOrder(port, "100", "X", "400", "125"), // 6: reserves 400 x 125 = 50000
      ],
      ["1", "2", "3", "4", "5", "6"],
    );
    // Nothing matched: 200000 - 37500 - 25400 - 50000 = 87100; 2000 - 800 = 1200 shares.
    strictEqual(await balanceOf(sql, "100"), "87100");
    strictEqual(await balanceOf(sql, "200"), "1000");
    strictEqual(await sharesOf(sql, "100", "X"), "0");
    strictEqual(await sharesOf(sql, "200", "X"), "1200");
    for (
      const [id, expected] of [
        ["1", "status{id=1}[open{shares=300}]"],
        ["2", "status{id=2}[open{shares=100}]"],
        ["3", "status{id=3}[open{shares=200}]"],
        ["6", "status{id=6}[open{shares=400}]"],
      ] as const
    ) {
      const account = id === "2" ? "200" : "100";
      strictEqual(await query(port, account, id), expected);
    }

    const window = timeWindow();
    strictEqual(await placeOrder(port, "300", "X", "-400", "124"), "7");
    const during = window.end();

    strictEqual(
      await query(port, "100", "1", during),
      "status{id=1}[open{shares=100} executed{shares=200,price=125,time=T}]",
    );
    strictEqual(
      await query(port, "300", "7", during),
      "status{id=7}[executed{shares=200,price=127,time=T} executed{shares=200,price=125,time=T}]",
    );
    strictEqual(
      await query(port, "100", "3", during),
      "status{id=3}[executed{shares=200,price=127,time=T}]",
    );
    // The sells at 128, 130 and 140 and the buy 6 at 125 (later than 1) did not trade.
    strictEqual(await query(port, "200", "2"), "status{id=2}[open{shares=100}]");
    strictEqual(await query(port, "200", "4"), "status{id=4}[open{shares=500}]");
    strictEqual(await query(port, "200", "5"), "status{id=5}[open{shares=200}]");
    strictEqual(await query(port, "100", "6"), "status{id=6}[open{shares=400}]");

    // Buyer 100: both fills were at its own limits (resting orders), so no refunds: 87100.
    // It received 200 + 200 = 400 shares.
    strictEqual(await balanceOf(sql, "100"), "87100");
    strictEqual(await sharesOf(sql, "100", "X"), "400");
    // Seller 300: proceeds 200 x 127 + 200 x 125 = 25400 + 25000 = 50400; its 400 shares are gone.
    strictEqual(await balanceOf(sql, "300"), "50400");
    strictEqual(await sharesOf(sql, "300", "X"), "0");
    // Seller 200 untouched: 1000 cash, 1200 shares held, 800 reserved by orders 2, 4 and 5.
    strictEqual(await balanceOf(sql, "200"), "1000");
    strictEqual(await sharesOf(sql, "200", "X"), "1200");

    // Conservation. Cash: deposited 201000 = balances 87100 + 1000 + 50400 = 138500
    // + reserved by open buys 1 (100 x 125 = 12500) and 6 (400 x 125 = 50000) = 62500.
    // Shares: minted 2400 = positions 400 + 1200 + 0 + reserved by open sells 100 + 500 + 200.
    const [totals] = await sql`
      SELECT (SELECT sum(deposited) FROM accounts)::text AS deposited,
             (SELECT sum(balance) FROM accounts)::text AS balances,
             (SELECT sum(open_shares * limit_price) FROM orders WHERE amount > 0)::text AS reserved,
             (SELECT minted FROM symbols WHERE sym = 'X')::text AS minted,
             (SELECT sum(open_shares) FROM orders WHERE amount < 0)::text AS offered`;
    deepStrictEqual(
      { ...totals },
      {
        deposited: "201000",
        balances: "138500",
        reserved: "62500",
        minted: "2400",
        offered: "800",
      },
    );
  } finally {
    await server.close();
  }
});
