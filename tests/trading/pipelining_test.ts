/**
 * Pipelined requests of one binary connection, through real sockets and a real PostgreSQL: a
 * request of orders reaches the order engine while the requests before it are still running
 * (`--connection-requests-max`), and still takes effect after them, whichever books they are on.
 *
 * How the order is made visible: an outside session holds the book lock of X, so the first
 * request's batch waits for it (seen in pg_stat_activity); the second request's order, on the
 * free book Y, is then seen queued in the engine, and must stay there until the first is decided.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { BinaryClient } from "../../src/client/exchange_client.ts";
import type { ReservedSql } from "../../src/db/database.ts";
import { startTestServer, type TestServer } from "../support/harness.ts";
import { beginHolding, lockWaiterPids } from "../support/lock_wait.ts";
import { answerElements, balanceOf, createAccounts, mint, transact } from "./exchange_fixture.ts";
import { waitUntil } from "../support/wait_until.ts";

function lockWaiters(server: TestServer): Promise<number[]> {
  return lockWaiterPids(server.db.sql, "exchange-test");
}

const buy = (sym: string) =>
  `<transactions id="1"><order sym="${sym}" amount="1" limit="100"/></transactions>`;

/**
 * Symbols X and Y (account 9 holds one share of each); `locker` holds book X. `client` pipelines
 * account 1's buy on X, seen waiting for the lock, then its buy on Y, seen queued in the engine.
 */
async function buysOnXThenY(server: TestServer, locker: ReservedSql, client: BinaryClient) {
  await mint(server.port, "X", { "9": "1" });
  await mint(server.port, "Y", { "9": "1" });
  await beginHolding(locker);
  await locker`SELECT sym FROM symbols WHERE sym = 'X' FOR UPDATE`;
  const first = client.request(buy("X"));
  await waitUntil(
    "the first order waits for book X",
    async () => (await lockWaiters(server)).length === 1,
  );
  const second = client.request(buy("Y"));
  await waitUntil("the second order is queued on Y", () => server.service.engine.queued("Y") === 1);
  return { first, second };
}

Deno.test("a pipelined order on a free book waits in the engine for the order sent before it", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  const client = await BinaryClient.connect(server.port);
  try {
    // Account 1 can pay for one of the two buys (each reserves 100), so the order in which they
    // take effect decides which one is refused.
    await createAccounts(server.port, { "1": "100", "9": "0" });
    const engine = server.service.engine;
    // The second request runs beside the first (its order reached the engine), and its order,
    // alone on a free book, is not taken while the order before it is undecided.
    const { first, second } = await buysOnXThenY(server, locker, client);
    strictEqual(engine.runningTotal(), 1, "only the first order's batch runs");
    const [stored] = await server.db.sql`SELECT count(*)::int AS n FROM orders`;
    strictEqual(stored!.n, 0, "nothing of the second order is stored");

    await locker`ROLLBACK`;
    const answers = [answerElements(await first), answerElements(await second)];
    deepStrictEqual(answers.map((a) => a.map((e) => e.name)), [["opened"], ["error"]]);
    strictEqual(answers[1]![0]!.text, "Insufficient funds: order needs 100 but balance is 0");
    strictEqual(await balanceOf(server.db.sql, "1"), "0");
    const rows = await server.db.sql`SELECT sym FROM orders ORDER BY id`;
    deepStrictEqual(rows.map((r) => r.sym), ["X"]);
  } finally {
    client.close();
    locker.release();
    await server.close();
  }
});

Deno.test("an order waiting for its connection's earlier one holds up no other client on its book", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  const client = await BinaryClient.connect(server.port);
  try {
    await createAccounts(server.port, { "1": "1000", "2": "1000", "9": "0" });
    const engine = server.service.engine;
    const { first, second } = await buysOnXThenY(server, locker, client);
    // Another client's order on Y, sent after it: served while the second still waits.
    const other = await transact(server.port, "2", `<order sym="Y" amount="1" limit="100"/>`);
    deepStrictEqual(other.map((e) => e.name), ["opened"]);
    strictEqual(engine.queued("Y"), 1, "the second order still waits for the first");
    strictEqual((await lockWaiters(server)).length, 1, "the first still waits for book X");

    await locker`ROLLBACK`;
    deepStrictEqual(answerElements(await first).map((e) => e.name), ["opened"]);
    deepStrictEqual(answerElements(await second).map((e) => e.name), ["opened"]);
  } finally {
    client.close();
    locker.release();
    await server.close();
  }
});

Deno.test("pipelined orders of one connection share batches, each answered as if run one by one", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  const client = await BinaryClient.connect(server.port);
  try {
    // 5 resting one-share sells at 10; the connection pipelines 7 buys of one share at 10: the
    // first 5 fill in the order sent, the other 2 rest, and account 1 can pay for all 7.
    await createAccounts(server.port, { "1": "70", "9": "0" });
    await mint(server.port, "X", { "9": "6" });
    for (let i = 0; i < 5; i++) {
      await client.request(
        `<transactions id="9"><order sym="X" amount="-1" limit="10"/></transactions>`,
      );
    }
    const engine = server.service.engine;
    const batchesBefore = engine.stats.batches;
    await beginHolding(locker);
    await locker`SELECT sym FROM symbols WHERE sym = 'X' FOR UPDATE`;
    const lead = client.request(
      `<transactions id="9"><order sym="X" amount="-1" limit="50"/></transactions>`,
    );
    await waitUntil(
      "the lead waits for book X",
      async () => (await lockWaiters(server)).length === 1,
    );
    const buys = Array.from(
      { length: 7 },
      () =>
        client.request(
          `<transactions id="1"><order sym="X" amount="1" limit="10"/></transactions>`,
        ),
    );
    // All seven reach the engine while the lead waits: with it, the 8 requests that run at once
    // by default (--connection-requests-max).
    await waitUntil("the seven buys are queued", () => engine.queued("X") === 7);
    await locker`ROLLBACK`;
    deepStrictEqual(answerElements(await lead).map((e) => e.name), ["opened"]);
    const ids = (await Promise.all(buys)).map((xml) => answerElements(xml)[0]!.attributes.id);
    deepStrictEqual(ids, ["7", "8", "9", "10", "11", "12", "13"], "ids in the order sent");
    // The lead's batch, then one batch for the seven.
    strictEqual(engine.stats.batches - batchesBefore, 2);
    const fills = await server.db.sql`SELECT buy_order_id::text AS buy FROM executions ORDER BY id`;
    deepStrictEqual(fills.map((r) => r.buy), ["7", "8", "9", "10", "11"], "the first five fill");
    strictEqual(await balanceOf(server.db.sql, "1"), "0");
  } finally {
    client.close();
    locker.release();
    await server.close();
  }
});
