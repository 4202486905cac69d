/**
 * Client references and the other order instructions where one request at a time cannot reach:
 * inside one batch (the same reference twice; a fill-or-kill order undone before an order that
 * takes what it had filled), across two engines deciding at once (the unique index is the last
 * guard), and across a restart of the real server process (a retry after a lost answer).
 *
 * A batch is made on purpose as in batch_test.ts: an outside session holds a lock the engine
 * needs, a lead request waits for it (seen in pg_stat_activity), the requests of interest queue
 * behind it one by one (seen in the engine's queue), then the lock is released.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import type { ReservedSql } from "../../src/db/database.ts";
import { freshDatabase, startTestServer, type TestServer } from "../support/harness.ts";
import { beginHolding, lockWaiterPids } from "../support/lock_wait.ts";
import { startServerProcess } from "../support/server_process.ts";
import {
  answerElements,
  balanceOf,
  createAccounts,
  type Element,
  mint,
  sharesOf,
  show,
} from "./exchange_fixture.ts";
import { waitUntil } from "../support/wait_until.ts";

const ANY_TIME = { from: 0, to: 4102444800 };

function request(port: number, account: string, inner: string): Promise<Element[]> {
  return sendText(port, `<transactions id="${account}">${inner}</transactions>`)
    .then(answerElements);
}

function compact(answer: Element[]): string[] {
  return answer.map((element) => show(element, ANY_TIME));
}

/**
 * Runs `requests` as one batch of book `sym` behind a lead request that waits for the book lock;
 * returns their answers, and checks that one batch decided them all.
 */
async function asOneBatch(
  server: TestServer,
  sym: string,
  locker: ReservedSql,
  lead: { account: string; inner: string },
  requests: ReadonlyArray<{ account: string; inner: string }>,
): Promise<Element[][]> {
  const engine = server.service.engine;
  await beginHolding(locker);
  await locker`SELECT sym FROM symbols WHERE sym = ${sym} FOR UPDATE`;
  const leadAnswer = request(server.port, lead.account, lead.inner);
  await waitUntil(
    "the lead batch waits for the lock",
    async () => (await lockWaiterPids(server.db.sql, "exchange-test")).length === 1,
  );
  const pending: Array<Promise<Element[]>> = [];
  for (const [index, item] of requests.entries()) {
    pending.push(request(server.port, item.account, item.inner));
    await waitUntil(`request ${index + 1} is queued`, () => engine.queued(sym) === index + 1);
  }
  const before = { ...engine.stats };
  await locker`ROLLBACK`;
  const answers = await Promise.all(pending);
  await leadAnswer;
  strictEqual(engine.stats.batches, before.batches + 2, "the lead's batch, then one more");
  strictEqual(engine.stats.operations, before.operations + 1 + requests.length);
  return answers;
}

Deno.test("two orders with the same ref in one batch are one order: the second is answered with the first", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "10" });
    const answers = await asOneBatch(server, "X", locker, {
      account: "2",
      inner: `<order sym="X" amount="-4" limit="10"/>`,
    }, [
      { account: "1", inner: `<order sym="X" amount="6" limit="10" ref="buy-1"/>` },
      { account: "1", inner: `<order sym="X" amount="6" limit="10" ref="buy-1"/>` },
      { account: "1", inner: `<order sym="X" amount="6" limit="11" ref="buy-1"/>` },
    ]);
    deepStrictEqual(answers.map(compact), [
      [
        "opened{sym=X,amount=6,limit=10,ref=buy-1,id=2}[open{shares=2} " +
        "executed{shares=4,price=10,time=T}]",
      ],
      [
        "opened{sym=X,amount=6,limit=10,ref=buy-1,id=2,repeated=true}[open{shares=2} " +
        "executed{shares=4,price=10,time=T}]",
      ],
      ["error{sym=X,amount=6,limit=11,ref=buy-1}"],
    ]);
    strictEqual(answers[2]![0]!.text, "Ref buy-1 was already used by order 2 with other values");
    // One buy of 6 at 10: 60 reserved, 40 of it paid for 4 shares.
    strictEqual(await balanceOf(server.db.sql, "1"), "940");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "4");
    const rows = await server.db.sql`SELECT count(*)::int AS n FROM orders WHERE account_id = '1'`;
    strictEqual(rows[0]!.n, 1);
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("two orders with the same ref in one request are one order: the second is answered with the first", async () => {
  const server = await startTestServer();
  try {
    await createAccounts(server.port, { "1": "0" });
    await mint(server.port, "X", { "1": "10" });
    const order = `<order sym="X" amount="-4" limit="10" ref="twice"/>`;
    deepStrictEqual(compact(await request(server.port, "1", order + order)), [
      "opened{sym=X,amount=-4,limit=10,ref=twice,id=1}[open{shares=4}]",
      "opened{sym=X,amount=-4,limit=10,ref=twice,id=1,repeated=true}[open{shares=4}]",
    ]);
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "6", "4 shares reserved, once");
  } finally {
    await server.close();
  }
});

Deno.test("a fill-or-kill order killed in a batch gives back what it had filled to the next order", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0", "3": "1000" });
    await mint(server.port, "X", { "1": "2", "2": "10" });
    const answers = await asOneBatch(server, "X", locker, {
      account: "2",
      inner: `<order sym="X" amount="-5" limit="10"/>`,
    }, [
      // Account 1 would take the 5 at 10 and then meet its own sell at 11: cancel-newest stops
      // it there, so it cannot fill 8 and is killed. Account 3's IOC finds the 5 still there.
      { account: "1", inner: `<order sym="X" amount="-2" limit="11"/>` },
      {
        account: "1",
        inner: `<order sym="X" amount="8" limit="12" tif="FOK" stp="cancel-newest"/>`,
      },
      { account: "3", inner: `<order sym="X" amount="7" limit="12" tif="IOC"/>` },
    ]);
    deepStrictEqual(answers.map(compact), [
      ["opened{sym=X,amount=-2,limit=11,id=2}"],
      ["error{sym=X,amount=8,limit=12,tif=FOK,stp=cancel-newest}"],
      [
        "opened{sym=X,amount=7,limit=12,tif=IOC,id=3}[" +
        "executed{shares=5,price=10,time=T} executed{shares=2,price=11,time=T}]",
      ],
    ]);
    strictEqual(
      answers[1]![0]!.text,
      "Fill or kill: only 5 of 8 shares could fill at once; nothing was done",
    );
    // Account 1 only has its sell of 2 (paid 22 by account 3); account 3 paid 50 + 22.
    strictEqual(await balanceOf(server.db.sql, "1"), "1022");
    strictEqual(await balanceOf(server.db.sql, "3"), "928");
    strictEqual(await sharesOf(server.db.sql, "3", "X"), "7");
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("the unique index stops one ref placed on two books by two engines at once", async () => {
  // Two servers on one database (one pool): two engines, as `--workers 2` runs them. Each
  // decides an order with the same ref on its own book; both read the refs before either
  // applies (they wait for the seller's account lock, held here), so neither decision sees the
  // other's order.
  const db = await freshDatabase();
  const a = await startTestServer({ db });
  const b = await startTestServer({ db });
  const locker = await db.sql.reserve();
  try {
    await createAccounts(a.port, { "1": "1000" });
    await mint(a.port, "X", { "1": "1" });
    await mint(a.port, "Y", { "1": "1" });
    await beginHolding(locker);
    await locker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    // Sells: they rely on no balance, so the winner's commit cannot send the loser back for a
    // stale balance first (its position row is another book's).
    const first = request(a.port, "1", `<order sym="X" amount="-1" limit="5" ref="once"/>`);
    const second = request(b.port, "1", `<order sym="Y" amount="-1" limit="5" ref="once"/>`);
    await waitUntil(
      "both batches wait for the account lock, having read the refs",
      async () => (await lockWaiterPids(db.sql, "exchange-test")).length === 2,
    );
    await locker`ROLLBACK`;
    const answers = [...await first, ...await second].map((e) => show(e, ANY_TIME));
    const opened = answers.filter((answer) => answer.startsWith("opened"));
    strictEqual(opened.length, 1, answers.join(" "));
    ok(
      answers.some((answer) => answer.startsWith("error")),
      `the other is refused: ${answers.join(" ")}`,
    );
    const rows = await db.sql`SELECT count(*)::int AS n FROM orders WHERE client_ref = 'once'`;
    strictEqual(rows[0]!.n, 1);
    strictEqual(
      a.service.engine.stats.refReruns + b.service.engine.stats.refReruns,
      1,
      "the loser was decided again",
    );
  } finally {
    locker.release();
    await b.close();
    await a.close();
  }
});

Deno.test("a ref sent again after a restart of the server is answered with the first order", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-refs-" });
  try {
    let server = await startServerProcess(["--data-dir", dataDir]);
    await sendText(
      server.port,
      `<create><account id="1" balance="100"/><account id="2" balance="0"/>` +
        `<symbol sym="X"><account id="2">10</account></symbol></create>`,
    );
    await request(server.port, "2", `<order sym="X" amount="-3" limit="10"/>`);
    const order = `<order sym="X" amount="5" limit="10" tif="IOC" ref="retry-7"/>`;
    const placed = compact(await request(server.port, "1", order));
    deepStrictEqual(placed, [
      "opened{sym=X,amount=5,limit=10,tif=IOC,ref=retry-7,id=2}[canceled{shares=2,time=T} " +
      "executed{shares=3,price=10,time=T}]",
    ]);
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);

    // The client never saw that answer: it sends the same order again, to a restarted server
    // (its numbers written otherwise: they are compared as numbers).
    server = await startServerProcess(["--data-dir", dataDir]);
    const again = `<order sym="X" amount="5.0" limit="10.00" tif="IOC" ref="retry-7"/>`;
    deepStrictEqual(compact(await request(server.port, "1", again)), [
      "opened{sym=X,amount=5,limit=10,tif=IOC,ref=retry-7,id=2,repeated=true}" +
      "[canceled{shares=2,time=T} executed{shares=3,price=10,time=T}]",
    ]);
    // Nothing was placed in between: the next order is transaction 3, and the cash is as after
    // the first (100 - 30).
    deepStrictEqual(
      compact(await request(server.port, "2", `<order sym="X" amount="-1" limit="10"/>`)),
      [
        "opened{sym=X,amount=-1,limit=10,id=3}",
      ],
    );
    deepStrictEqual(compact(await request(server.port, "1", `<query id="2"/>`)), [
      "status{id=2}[canceled{shares=2,time=T} executed{shares=3,price=10,time=T}]",
    ]);
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
