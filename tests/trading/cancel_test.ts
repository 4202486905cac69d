/** `<cancel>` through the wire: refunds, returned shares, answers, and that canceled parts never trade. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { startTestServer } from "../support/harness.ts";
import {
  balanceOf,
  createAccounts,
  mint,
  normalize,
  nowSeconds,
  placeOrder,
  query,
  sharesOf,
  show,
  timeWindow,
  transact,
} from "./exchange_fixture.ts";

/** One `<cancel>` by `account`, in compact form with times checked against `window`. */
async function cancel(
  port: number,
  account: string,
  id: string,
  window: { from: number; to: number },
): Promise<string> {
  const answer = await transact(port, account, `<cancel id="${id}"/>`);
  strictEqual(answer.length, 1);
  return show(answer[0]!, window);
}

Deno.test("cancel of a buy refunds the remaining shares times the limit exactly", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000.5" });
    await mint(port, "X", { "1": "1" });
    const buy = await placeOrder(port, "1", "X", "10.5", "12.25"); // reserves 128.625
    strictEqual(await balanceOf(sql, "1"), "871.875");
    const window = timeWindow();
    const answer = await cancel(port, "1", buy, window);
    strictEqual(answer, `canceled{id=${buy}}[canceled{shares=10.5,time=T}]`);
    strictEqual(await balanceOf(sql, "1"), "1000.5");
    strictEqual(await sharesOf(sql, "1", "X"), "1");
    strictEqual(
      await query(port, "1", buy, window.end()),
      `status{id=${buy}}[canceled{shares=10.5,time=T}]`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("cancel of a sell returns the remaining shares", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "7" });
    await mint(port, "X", { "1": "100" });
    const sell = await placeOrder(port, "1", "X", "-30.25", "5");
    strictEqual(await sharesOf(sql, "1", "X"), "69.75");
    const window = timeWindow();
    // Shares are positive for sells too.
    strictEqual(
      await cancel(port, "1", sell, window),
      `canceled{id=${sell}}[canceled{shares=30.25,time=T}]`,
    );
    strictEqual(await sharesOf(sql, "1", "X"), "100");
    strictEqual(await balanceOf(sql, "1"), "7");
  } finally {
    await server.close();
  }
});

Deno.test("cancel after a partial fill shows the canceled part and the earlier executions", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    const window = timeWindow();
    const buy = await placeOrder(port, "1", "X", "100", "10"); // reserves 1000
    await placeOrder(port, "2", "X", "-30", "9"); // 30 @ 10
    await placeOrder(port, "2", "X", "-20", "10"); // 20 @ 10
    strictEqual(await balanceOf(sql, "1"), "9000");
    const answer = await cancel(port, "1", buy, window.end());
    strictEqual(
      answer,
      `canceled{id=${buy}}[canceled{shares=50,time=T} executed{shares=30,price=10,time=T} ` +
        `executed{shares=20,price=10,time=T}]`,
    );
    // Refund of the 50 canceled shares x 10 = 500: 10000 - 1000 + 500 = 9500.
    strictEqual(await balanceOf(sql, "1"), "9500");
    strictEqual(await sharesOf(sql, "1", "X"), "50");
    strictEqual(await balanceOf(sql, "2"), "500");
    // A later query shows the same, with no <open>.
    strictEqual(
      await query(port, "1", buy, window.end()),
      `status{id=${buy}}[canceled{shares=50,time=T} executed{shares=30,price=10,time=T} ` +
        `executed{shares=20,price=10,time=T}]`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("cancel of a partly filled sell returns only the unfilled shares", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "10000", "2": "0" });
    await mint(port, "X", { "2": "100" });
    const window = timeWindow();
    const sell = await placeOrder(port, "2", "X", "-80", "10");
    await placeOrder(port, "1", "X", "30", "11"); // 30 @ 10
    strictEqual(
      await cancel(port, "2", sell, window),
      `canceled{id=${sell}}[canceled{shares=50,time=T} executed{shares=30,price=10,time=T}]`,
    );
    strictEqual(await sharesOf(sql, "2", "X"), "70"); // 100 - 80 + 50
    strictEqual(await balanceOf(sql, "2"), "300");
    strictEqual(await balanceOf(sql, "1"), "9700"); // 10000 - 330 + 30 refund
  } finally {
    await server.close();
  }
});

Deno.test("a canceled buy never executes: a crossing sell placed afterwards rests", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000", "2": "0" });
    await mint(port, "X", { "2": "10" });
    const window = timeWindow();
    const buy = await placeOrder(port, "1", "X", "10", "10");
    strictEqual(
      await cancel(port, "1", buy, window),
      `canceled{id=${buy}}[canceled{shares=10,time=T}]`,
    );
    const sell = await placeOrder(port, "2", "X", "-10", "9");
    strictEqual(await query(port, "2", sell), `status{id=${sell}}[open{shares=10}]`);
    strictEqual(
      await query(port, "1", buy, window.end()),
      `status{id=${buy}}[canceled{shares=10,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "1000");
    strictEqual(await sharesOf(sql, "1", "X"), "0");
    strictEqual(await balanceOf(sql, "2"), "0");
    strictEqual(await sharesOf(sql, "2", "X"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("a canceled sell never executes, even when it had the best price", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000", "2": "0" });
    await mint(port, "X", { "2": "20" });
    const cheap = await placeOrder(port, "2", "X", "-10", "5");
    const dear = await placeOrder(port, "2", "X", "-10", "8");
    const window = timeWindow();
    await cancel(port, "2", cheap, window);
    const buy = await placeOrder(port, "1", "X", "15", "9"); // reserves 135; 10 @ 8 from `dear`
    strictEqual(
      await query(port, "1", buy, window.end()),
      `status{id=${buy}}[open{shares=5} executed{shares=10,price=8,time=T}]`,
    );
    strictEqual(
      await query(port, "2", cheap, window.end()),
      `status{id=${cheap}}[canceled{shares=10,time=T}]`,
    );
    strictEqual(
      await query(port, "2", dear, window.end()),
      `status{id=${dear}}[executed{shares=10,price=8,time=T}]`,
    );
    strictEqual(await balanceOf(sql, "1"), "875"); // 1000 - 135 + 10 x (9 - 8)
    strictEqual(await balanceOf(sql, "2"), "80");
    strictEqual(await sharesOf(sql, "2", "X"), "10");
  } finally {
    await server.close();
  }
});

Deno.test("cancel of one order leaves the account's other orders and the book untouched", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000" });
    await mint(port, "X", { "1": "5" });
    const b = await placeOrder(port, "1", "X", "2", "100");
    const c = await placeOrder(port, "1", "X", "3", "100");
    const window = timeWindow();
    const answer = await transact(
      port,
      "1",
      `<cancel id="${b}"/><query id="${c}"/><query id="${b}"/>`,
    );
    deepStrictEqual(answer.map((element) => show(element, window.end())), [
      `canceled{id=${b}}[canceled{shares=2,time=T}]`,
      `status{id=${c}}[open{shares=3}]`,
      `status{id=${b}}[canceled{shares=2,time=T}]`,
    ]);
    strictEqual(await balanceOf(sql, "1"), "700");
  } finally {
    await server.close();
  }
});

Deno.test("canceled and executed times are whole seconds of when they happened", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    await createAccounts(port, { "1": "1000", "2": "0" });
    await mint(port, "X", { "2": "10" });
    const before = nowSeconds();
    const buy = await placeOrder(port, "1", "X", "10", "10");
    await placeOrder(port, "2", "X", "-4", "10");
    const answer = await transact(port, "1", `<cancel id="${buy}"/>`);
    const after = nowSeconds();
    const [canceled, executed] = answer[0]!.children;
    for (const child of [canceled!, executed!]) {
      const time = child.attributes.time!;
      ok(/^[1-9][0-9]*$/.test(time), `not whole seconds: ${time}`);
      ok(
        Number(time) >= before - 1 && Number(time) <= after + 1,
        `time ${time} not within [${before}, ${after}]`,
      );
    }
    strictEqual(canceled!.name, "canceled");
    strictEqual(executed!.name, "executed");
    // The cancel happened no earlier than the fill.
    ok(Number(canceled!.attributes.time) >= Number(executed!.attributes.time));
  } finally {
    await server.close();
  }
});

Deno.test("a cancel racing a crossing order: what was canceled never executes", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    const rounds = 15;
    await createAccounts(port, { "1": "100000", "2": "0" });
    await mint(port, "X", { "2": String(10 * rounds) });
    for (let round = 0; round < rounds; round++) {
      const sell = await placeOrder(port, "2", "X", "-10", "10");
      // The buy wants 6 of the 10: either it fills 6 and the cancel takes the other 4, or the
      // cancel takes all 10 and the buy rests unfilled.
      const [canceled, bought] = await Promise.all([
        transact(port, "2", `<cancel id="${sell}"/>`),
        transact(port, "1", `<order sym="X" amount="6" limit="10"/>`),
      ]);
      const cancelAnswer = show(canceled[0]!, { from: 0, to: 4102444800 });
      strictEqual(bought[0]!.name, "opened");
      const buy = bought[0]!.attributes.id!;
      const buyStatus = await query(port, "1", buy, { from: 0, to: 4102444800 });
      if (cancelAnswer === `canceled{id=${sell}}[canceled{shares=10,time=T}]`) {
        strictEqual(buyStatus, `status{id=${buy}}[open{shares=6}]`);
        // Leave the book empty for the next round.
        await transact(port, "1", `<cancel id="${buy}"/>`);
      } else {
        strictEqual(
          cancelAnswer,
          `canceled{id=${sell}}[canceled{shares=4,time=T} executed{shares=6,price=10,time=T}]`,
        );
        strictEqual(buyStatus, `status{id=${buy}}[executed{shares=6,price=10,time=T}]`);
      }
    }
    // Whatever the interleavings: cash and shares are conserved.
    const [totals] = await sql`
      SELECT (SELECT sum(balance) FROM accounts)::text AS cash,
             (SELECT sum(shares) FROM positions)::text AS shares,
             (SELECT count(*) FROM orders WHERE open_shares > 0)::int AS open`;
    deepStrictEqual(
      { cash: normalize(totals!.cash), shares: normalize(totals!.shares), open: totals!.open },
      { cash: "100000", shares: String(10 * rounds), open: 0 },
    );
  } finally {
    await server.close();
  }
});
