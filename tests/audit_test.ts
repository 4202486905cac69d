/**
 * The audit itself: silent on a consistent exchange after real trades, and exact about each kind
 * of corruption planted with direct SQL.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { sendText } from "../src/client/exchange_client.ts";
import { auditDatabase, type AuditReport } from "../src/db/audit.ts";
import { startTestServer, type TestServer } from "./support/harness.ts";
import { results } from "./support/xml.ts";

/**
 * The worked example of docs/PROTOCOL.md between a buyer "1" and a seller "2", then a cancel:
 * orders 1..7, executions 1 (order 3 with 7, 200 @ 127) and 2 (order 1 with 7, 200 @ 125),
 * order 6 canceled. Afterwards: balances 937100 and 50400, order 1 holds 100 open @ 125.
 */
async function tradedExchange(): Promise<TestServer> {
  const server = await startTestServer();
  const setup = await sendText(
    server.port,
    `<create><account id="1" balance="1000000"/><account id="2" balance="0"/>` +
      `<symbol sym="X"><account id="2">10000</account></symbol></create>`,
  );
  strictEqual(results(setup).map((e) => e.name).join(" "), "created created created");
  const orders: Array<[string, string, string]> = [
    ["1", "300", "125"],
    ["2", "-100", "130"],
    ["1", "200", "127"],
    ["2", "-500", "128"],
    ["2", "-200", "140"],
    ["1", "400", "125"],
    ["2", "-400", "124"],
  ];
  for (const [account, amount, limit] of orders) {
    const answer = await sendText(
      server.port,
      `<transactions id="${account}"><order sym="X" amount="${amount}" limit="${limit}"/></transactions>`,
    );
    strictEqual(results(answer)[0]?.name, "opened", answer);
  }
  const cancel = await sendText(
    server.port,
    `<transactions id="1"><cancel id="6"/></transactions>`,
  );
  strictEqual(results(cancel)[0]?.name, "canceled", cancel);
  return server;
}

/** Runs `fn` on a traded exchange and closes it whatever happens. */
async function withTradedExchange(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await tradedExchange();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function violationsOf(report: AuditReport): string[] {
  return report.violations.map((v) => `${v.check} | ${v.subject} | ${v.detail}`);
}

Deno.test("auditDatabase reports nothing on a consistent exchange after trades", async () => {
  await withTradedExchange(async ({ db }) => {
    const report = await auditDatabase(db.sql);
    deepStrictEqual(violationsOf(report), []);
    deepStrictEqual(report.violationCounts, {});
    deepStrictEqual(report.totals, {
      accounts: 2,
      symbols: 1,
      orders: 7,
      openOrders: 4,
      executions: 2,
      deposited: "1000000",
      balances: "987500",
      reservedCash: "12500",
    });
  });
});

Deno.test("auditDatabase reports a balance that does not add up", async () => {
  await withTradedExchange(async ({ db }) => {
    await db.sql`UPDATE accounts SET balance = balance + 0.01 WHERE id = '1'`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "cash_not_conserved | all accounts | " +
      "deposited 1000000, but balances hold 987500.01 and open buys reserve 12500",
    ]);
  });
});

Deno.test("auditDatabase reports shares that were minted but are nowhere", async () => {
  await withTradedExchange(async ({ db }) => {
    await db.sql`UPDATE symbols SET minted = minted + 5 WHERE sym = 'X'`;
    // Seller: 10000 - 100 - 500 - 200 - 400 = 8800 held; open sells 100 + 500 + 200 reserved.
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "shares_not_conserved | symbol X | minted 10005, but positions hold 9200 and open sells reserve 800",
    ]);
  });
});

Deno.test("auditDatabase reports a crossed book", async () => {
  await withTradedExchange(async ({ db }) => {
    // A buy at 135 resting above the sell at 128, with its cash properly reserved: only the
    // book is wrong.
    await db.sql`UPDATE accounts SET balance = balance - 1350 WHERE id = '1'`;
    await db.sql`
      INSERT INTO orders (account_id, sym, amount, limit_price, open_shares, created_at)
      VALUES ('1', 'X', 10, 135, 10, 0)`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "crossed_book | symbol X | best open buy 135 is not below best open sell 128",
    ]);
  });
});

Deno.test("auditDatabase reports an execution not priced at the resting order's limit", async () => {
  await withTradedExchange(async ({ db }) => {
    // Execution 1 paired resting buy 3 (@ 127) with incoming sell 7 (@ 124): 126 is within
    // both limits, but is not the resting limit.
    await db.sql`UPDATE executions SET price = 126 WHERE id = 1`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "execution_price_not_resting_limit | execution 1 | price 126, but the resting order 3 has limit 127",
    ]);
  });
});

Deno.test("auditDatabase reports an execution priced outside the limits", async () => {
  await withTradedExchange(async ({ db }) => {
    await db.sql`UPDATE executions SET price = 123 WHERE id = 2`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "execution_price_outside_limits | execution 2 | " +
      "price 123, but sell order 7 has limit 124 and buy order 1 has limit 125",
      "execution_price_not_resting_limit | execution 2 | price 123, but the resting order 1 has limit 125",
    ]);
  });
});

Deno.test("auditDatabase reports orders whose shares do not add up", async () => {
  await withTradedExchange(async ({ db }) => {
    // Losing a fill leaves both of its orders short of their amount.
    await db.sql`DELETE FROM executions WHERE id = 1`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "order_shares_mismatch | order 3 | executed 0 + open 0 + canceled 0, but the amount is 200",
      "order_shares_mismatch | order 7 | executed 200 + open 0 + canceled 0, but the amount is -400",
    ]);
    deepStrictEqual((await auditDatabase(db.sql)).violationCounts, { order_shares_mismatch: 2 });
  });
});

Deno.test("auditDatabase reports an execution between two buys", async () => {
  await withTradedExchange(async ({ db }) => {
    // Order 1 (buy) had 100 open; move them into a fill against order 3 (another buy).
    await db.sql`UPDATE orders SET open_shares = 0, canceled_shares = 0 WHERE id = 1`;
    await db.sql`UPDATE accounts SET balance = balance + 12500 WHERE id = '1'`;
    await db.sql`
      INSERT INTO executions (buy_order_id, sell_order_id, shares, price, executed_at)
      VALUES (1, 3, 100, 125, 0)`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "execution_wrong_orders | execution 3 | buy order 1 has amount 300 and sell order 3 has amount 200",
      "order_shares_mismatch | order 3 | executed 300 + open 0 + canceled 0, but the amount is 200",
    ]);
  });
});

Deno.test("auditDatabase reports negative values even without the schema's constraints", async () => {
  await withTradedExchange(async ({ db }) => {
    // The audit must not rely on the CHECK constraints it is meant to double-check.
    await db.sql`ALTER TABLE positions DROP CONSTRAINT positions_shares_check`;
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('3', 0, 0)`;
    await db.sql`INSERT INTO positions (account_id, sym, shares) VALUES ('3', 'X', -5)`;
    await db.sql`UPDATE positions SET shares = shares + 5 WHERE account_id = '2'`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "negative_value | position 3 X | shares are -5",
    ]);
  });
});

Deno.test("auditDatabase reports an order both open and canceled, even without the schema's constraints", async () => {
  await withTradedExchange(async ({ db }) => {
    // Order 6 (buy 400 @ 125) was canceled whole; pretend 100 of them stayed open, with their
    // cash reserved, so that only the open-and-canceled rule is broken.
    const [constraint] = await db.sql`
      SELECT conname FROM pg_constraint
      WHERE conrelid = 'orders'::regclass AND pg_get_constraintdef(oid) LIKE '%open_shares = %'`;
    await db.sql.unsafe(`ALTER TABLE orders DROP CONSTRAINT ${constraint!.conname}`);
    await db.sql`UPDATE orders SET open_shares = 100, canceled_shares = 300 WHERE id = 6`;
    await db.sql`UPDATE accounts SET balance = balance - 12500 WHERE id = '1'`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "order_shares_mismatch | order 6 | open 100 and canceled 300 at once: a cancel leaves nothing open",
    ]);
  });
});

Deno.test("auditDatabase reports an IOC order left resting, even without the schema's constraint", async () => {
  await withTradedExchange(async ({ db }) => {
    // Order 1 (buy 300 @ 125) still has 100 open: as an IOC order it should have none.
    await db.sql`ALTER TABLE orders DROP CONSTRAINT orders_immediate_never_rests`;
    await db.sql`UPDATE orders SET time_in_force = 'IOC' WHERE id = 1`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "immediate_order_resting | order 1 | IOC order has 100 open: IOC and FOK orders never rest",
    ]);
  });
});

Deno.test("auditDatabase reports a self-trade that the incoming order's stp forbade", async () => {
  await withTradedExchange(async ({ db }) => {
    // Execution 1: resting buy 3 of account 1 with incoming sell 7. Had 7 been account 1's
    // with cancel-newest, it would have stopped there. With the resting order's stp only (7 with
    // none), the trade is allowed: the incoming order decides.
    await db.sql`UPDATE orders SET account_id = '1' WHERE id = 7`;
    await db.sql`UPDATE orders SET self_trade = 'cancel-oldest' WHERE id = 3`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), []);
    await db.sql`UPDATE orders SET self_trade = 'cancel-newest' WHERE id = 7`;
    deepStrictEqual(violationsOf(await auditDatabase(db.sql)), [
      "self_trade_not_prevented | execution 1 | buy order 3 and sell order 7 are both of account " +
      "1, and order 7 came with stp cancel-newest",
      "self_trade_not_prevented | execution 2 | buy order 1 and sell order 7 are both of account " +
      "1, and order 7 came with stp cancel-newest",
    ]);
  });
});
