/**
 * The order engine's batches, through real sockets: operations of several clients decided in
 * one transaction exactly as if they had run one at a time in arrival order.
 *
 * How a batch is made on purpose: an outside session holds a lock that the engine needs, so
 * the batch running for the book waits (seen in pg_stat_activity); meanwhile the test sends the
 * operations of interest one by one, each seen queued in the engine before the next is sent
 * (that fixes their arrival order); then it releases the lock, and they run as one batch.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import type { ReservedSql } from "../../src/db/database.ts";
import { INTERNAL_ERROR, SERVICE_UNAVAILABLE } from "../../src/xml/answers.ts";
import { startTestServer, type TestServer } from "../support/harness.ts";
import { beginHolding, lockWaiterPids } from "../support/lock_wait.ts";
import {
  answerElements,
  balanceOf,
  createAccounts,
  type Element,
  mint,
  placeOrder,
  query,
  sharesOf,
  show,
  snapshot,
  transact,
} from "./exchange_fixture.ts";
import { waitUntil } from "../support/wait_until.ts";

/** Backends of the test server's pool waiting for a lock. */
function lockWaiters(server: TestServer): Promise<number[]> {
  return lockWaiterPids(server.db.sql, "exchange-test");
}

/** One `<transactions>` request on its own connection; resolves with its answer elements. */
function request(server: TestServer, account: string, inner: string): Promise<Element[]> {
  return sendText(server.port, `<transactions id="${account}">${inner}</transactions>`)
    .then(answerElements);
}

/**
 * Runs `requests` as one batch of book `sym`: `hold` takes a lock in `locker` that the engine
 * needs, a lead request (`lead`) starts a batch that waits for it, the requests queue behind,
 * then `release` lets everything go. Returns the answers of the lead and of each request.
 */
async function asOneBatch(
  server: TestServer,
  sym: string,
  locker: ReservedSql,
  hold: () => Promise<unknown>,
  lead: { account: string; inner: string },
  requests: ReadonlyArray<{ account: string; inner: string }>,
  expect: { batchesAfterLead: number } = { batchesAfterLead: 1 },
): Promise<{ lead: Element[]; answers: Element[][] }> {
  const engine = server.service.engine;
  await beginHolding(locker);
  await hold();
  const leadAnswer = request(server, lead.account, lead.inner);
  await waitUntil(
    "the lead batch waits for the lock",
    async () => (await lockWaiters(server)).length === 1,
  );
  const pending: Array<Promise<Element[]>> = [];
  for (const [index, item] of requests.entries()) {
    pending.push(request(server, item.account, item.inner));
    await waitUntil(`request ${index + 1} is queued`, () => engine.queued(sym) === index + 1);
  }
  const before = { ...engine.stats };
  await locker`ROLLBACK`;
  const answers = await Promise.all(pending);
  // A batch is counted as it ends, with the operations it decided: the lead's, then exactly one
  // more, which held every request (unless it failed and its operations ran again one by one, a
  // split batch not being counted, or it left some to the next batch).
  strictEqual(
    engine.stats.batches,
    before.batches + 1 + expect.batchesAfterLead,
    "batches after the lead",
  );
  strictEqual(engine.stats.operations, before.operations + 1 + requests.length);
  return { lead: await leadAnswer, answers };
}

/** A compact answer with every `time` value written as `T`. */
function withoutTimes(compact: string): string {
  return compact.replace(/time=[0-9]+/g, "time=T");
}

const ORDER = (sym: string, amount: string, limit: string) =>
  `<order sym="${sym}" amount="${amount}" limit="${limit}"/>`;

/** Holds the book lock of `sym`. */
const holdBook = (locker: ReservedSql, sym: string) => () =>
  locker`SELECT sym FROM symbols WHERE sym = ${sym} FOR UPDATE`;

Deno.test("a refused order in the middle of a batch changes nothing and uses no transaction id", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "10", "3": "1000", "9": "0" });
    await mint(server.port, "X", { "9": "1" });
    const { lead, answers } = await asOneBatch(
      server,
      "X",
      locker,
      holdBook(locker, "X"),
      // Refused too (no money): the exchange still has no accepted order when the batch runs.
      { account: "9", inner: ORDER("X", "1", "1") },
      [
        { account: "1", inner: ORDER("X", "10", "10") },
        { account: "2", inner: ORDER("X", "10", "10") },
        { account: "3", inner: ORDER("X", "5", "10") },
      ],
    );
    deepStrictEqual(lead.map((e) => show(e)), [
      "error{sym=X,amount=1,limit=1}",
    ]);
    deepStrictEqual(answers.map((a) => a.map((e) => show(e))), [
      ["opened{sym=X,amount=10,limit=10,id=1}"],
      ["error{sym=X,amount=10,limit=10}"],
      ["opened{sym=X,amount=5,limit=10,id=2}"],
    ]);
    strictEqual(answers[1]![0]!.text, "Insufficient funds: order needs 100 but balance is 10");
    deepStrictEqual(
      [
        await balanceOf(server.db.sql, "1"),
        await balanceOf(server.db.sql, "2"),
        await balanceOf(server.db.sql, "3"),
      ],
      ["900", "10", "950"],
    );
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("an order fills against an order of the same batch, and its proceeds fund a later order", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "100" });
    const { answers } = await asOneBatch(
      server,
      "X",
      locker,
      holdBook(locker, "X"),
      { account: "2", inner: ORDER("X", "1", "1") }, // refused: account 2 has no cash yet
      [
        { account: "2", inner: ORDER("X", "-10", "10") }, // rests
        { account: "1", inner: ORDER("X", "4", "12") }, // fills 4 @ 10 from the sell above
        { account: "2", inner: ORDER("X", "4", "9.5") }, // 38 needed: paid by that fill
        { account: "2", inner: ORDER("X", "1", "2.5") }, // 2.5 needed, 2 left: refused
      ],
    );
    deepStrictEqual(answers.map((a) => a.map((e) => e.name)), [
      ["opened"],
      ["opened"],
      ["opened"],
      ["error"],
    ]);
    strictEqual(answers[3]![0]!.text, "Insufficient funds: order needs 2.5 but balance is 2");
    const [sell, buy] = [answers[0]![0]!.attributes.id!, answers[1]![0]!.attributes.id!];
    // The sell rested first, so the buy traded at its limit and got (12 - 10) x 4 back.
    strictEqual(
      withoutTimes(await query(server.port, "2", sell)),
      "status{id=1}[open{shares=6} executed{shares=4,price=10,time=T}]",
    );
    strictEqual(
      withoutTimes(await query(server.port, "1", buy)),
      "status{id=2}[executed{shares=4,price=10,time=T}]",
    );
    deepStrictEqual(
      [
        await balanceOf(server.db.sql, "1"),
        await balanceOf(server.db.sql, "2"),
        await sharesOf(server.db.sql, "1", "X"),
        await sharesOf(server.db.sql, "2", "X"),
      ],
      ["960", "2", "4", "90"],
    );
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a fill and a cancel of the same order in one batch: the cancel sees the fill", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "100" });
    const resting = await placeOrder(server.port, "1", "X", "10", "10"); // reserves 100
    const { answers } = await asOneBatch(
      server,
      "X",
      locker,
      holdBook(locker, "X"),
      { account: "2", inner: ORDER("X", "1", "1") },
      [
        { account: "2", inner: ORDER("X", "-4", "9") }, // fills 4 of the resting buy at 10
        { account: "1", inner: `<cancel id="${resting}"/>` }, // cancels the other 6
        { account: "1", inner: `<cancel id="${resting}"/>` }, // nothing open any more
        { account: "2", inner: ORDER("X", "-3", "9") }, // the canceled part never executes
      ],
    );
    const canceled = answers[1]![0]!;
    strictEqual(canceled.name, "canceled");
    deepStrictEqual(
      canceled.children.map((e) => `${e.name}:${e.attributes.shares}@${e.attributes.price ?? ""}`),
      [
        "canceled:6@",
        "executed:4@10",
      ],
    );
    strictEqual(answers[2]![0]!.text, "Order has nothing open to cancel");
    strictEqual(answers[3]![0]!.name, "opened");
    const last = answers[3]![0]!.attributes.id!;
    strictEqual(await query(server.port, "2", last), `status{id=${last}}[open{shares=3}]`);
    deepStrictEqual(
      [
        await balanceOf(server.db.sql, "1"), // 1000 - 100 + 60 refunded
        await balanceOf(server.db.sql, "2"), // 4 x 10
        await sharesOf(server.db.sql, "1", "X"),
        await sharesOf(server.db.sql, "2", "X"), // 100 - 4 - 3 reserved
      ],
      ["960", "40", "4", "93"],
    );
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a batch whose transaction is killed mid-way answers each operation once and applies nothing", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "1000", "3": "1000" });
    await mint(server.port, "X", { "3": "100" });
    await placeOrder(server.port, "3", "X", "-5", "10");
    const before = await snapshot(server.db.sql);
    const engine = server.service.engine;

    // Account 1's row is locked from outside: a batch that touches it gets through round trip 1
    // (the book lock, reads without account locks) and stops inside exchange_apply_batch.
    await beginHolding(locker);
    await locker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    const lead = request(server, "1", ORDER("X", "1", "10"));
    await waitUntil(
      "the lead batch waits in round trip 2",
      async () => (await lockWaiters(server)).length === 1,
    );
    const inner = [
      { account: "2", inner: ORDER("X", "2", "10") },
      { account: "1", inner: ORDER("X", "3", "11") },
      { account: "2", inner: ORDER("X", "1", "9") },
    ];
    const pending: Array<Promise<Element[]>> = [];
    for (const [index, item] of inner.entries()) {
      pending.push(request(server, item.account, item.inner));
      await waitUntil(`request ${index + 1} is queued`, () => engine.queued("X") === index + 1);
    }
    // Kill the lead's transaction, then the batch of three that follows it, each mid-way.
    const [leadPid] = await lockWaiters(server);
    await server.db.sql`SELECT pg_terminate_backend(${leadPid!})`;
    deepStrictEqual((await lead).map((e) => e.text), [SERVICE_UNAVAILABLE]);
    await waitUntil(
      "the batch of three waits in round trip 2",
      async () => (await lockWaiters(server)).some((pid) => pid !== leadPid),
    );
    const batchesBefore = engine.stats.batches;
    const [batchPid] = await lockWaiters(server);
    await server.db.sql`SELECT pg_terminate_backend(${batchPid!})`;
    const answers = await Promise.all(pending);
    deepStrictEqual(
      answers.map((a) => a.map((e) => e.text)),
      inner.map(() => [SERVICE_UNAVAILABLE]),
    );
    // Counted once, as it ended: it was not run again, nor split.
    strictEqual(engine.stats.batches, batchesBefore + 1, "the killed batch was not run again");
    await locker`ROLLBACK`;

    // Nothing of the killed batches was applied, and the book works on.
    strictEqual(await snapshot(server.db.sql), before);
    strictEqual(await placeOrder(server.port, "2", "X", "5", "10"), "2");
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a balance changed between a batch's read and its account locks makes the batch decide again", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "100", "2": "0" });
    await mint(server.port, "X", { "2": "10" });
    const engine = server.service.engine;
    const rerunsBefore = engine.stats.staleReruns;
    // The batch reads account 1's balance (100) without a lock, decides, then waits here for the
    // account lock, held from outside.
    await beginHolding(locker);
    await locker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    const answer = request(server, "1", ORDER("X", "10", "15")); // needs 150
    await waitUntil(
      "the batch waits for the account lock",
      async () => (await lockWaiters(server)).length === 1,
    );
    // Meanwhile the balance changes (a deposit made outside the protocol, conserved as such).
    await locker`UPDATE accounts SET balance = balance + 100, deposited = deposited + 100
                 WHERE id = '1'`;
    await locker`COMMIT`;
    // Decided on the stale 100 it would be refused; decided again on 200 it is accepted.
    deepStrictEqual((await answer).map((e) => show(e)), ["opened{sym=X,amount=10,limit=15,id=1}"]);
    strictEqual(engine.stats.staleReruns, rerunsBefore + 1);
    strictEqual(await balanceOf(server.db.sql, "1"), "50");
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a batch failing on one operation runs each alone: its neighbours are answered as if alone", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "10000", "2": "10000", "9": "0" });
    await mint(server.port, "X", { "9": "1" });
    // A rule the decision does not know: PostgreSQL refuses an order at limit 777 (SQLSTATE
    // 23514), like a bug of ours that a CHECK constraint stops.
    await server.db.sql`ALTER TABLE orders ADD CONSTRAINT test_no_777 CHECK (limit_price <> 777)`;
    const splitBefore = server.service.engine.stats.splitBatches;
    const { answers } = await asOneBatch(
      server,
      "X",
      locker,
      holdBook(locker, "X"),
      { account: "9", inner: ORDER("X", "1", "1") },
      [
        { account: "1", inner: ORDER("X", "1", "10") },
        { account: "2", inner: ORDER("X", "1", "777") },
        { account: "1", inner: ORDER("X", "2", "10") },
      ],
      { batchesAfterLead: 3 }, // one per operation (the failed batch is counted as split)
    );
    deepStrictEqual(answers.map((a) => a.map((e) => e.name)), [["opened"], ["error"], ["opened"]]);
    strictEqual(answers[1]![0]!.text, INTERNAL_ERROR);
    strictEqual(server.service.engine.stats.splitBatches, splitBefore + 1);
    deepStrictEqual(
      [await balanceOf(server.db.sql, "1"), await balanceOf(server.db.sql, "2")],
      ["9970", "10000"],
    );
    ok(server.logs.some((line) => line.includes("running its operations one per transaction")));
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a batch past its rows bound leaves its later operations to the next batch, in arrival order", async () => {
  const server = await startTestServer({ service: { batchRowsMax: 4 } });
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "1000", "3": "0", "9": "0" });
    await mint(server.port, "X", { "3": "20", "9": "1" });
    // Six one-share sells at 10: orders 1..6.
    const placed = await transact(server.port, "3", ORDER("X", "-1", "10").repeat(6));
    deepStrictEqual(placed.map((e) => e.attributes.id), ["1", "2", "3", "4", "5", "6"]);
    const engine = server.service.engine;
    const deferredBefore = engine.stats.deferredOperations;
    const { answers } = await asOneBatch(
      server,
      "X",
      locker,
      holdBook(locker, "X"),
      { account: "9", inner: ORDER("X", "1", "1") }, // refused: no cash
      [
        { account: "1", inner: ORDER("X", "2", "10") }, // fills 1, 2: 2 rows
        { account: "2", inner: ORDER("X", "3", "10") }, // would make 5 rows: next batch, first
        { account: "1", inner: ORDER("X", "2", "10") }, // next batch: fills 6 (4 rows), rests 1
        { account: "3", inner: `<cancel id="5"/>` }, // next batch: 5 was filled before it
        { account: "3", inner: ORDER("X", "-1", "9") }, // would make 5 rows: a third batch
      ],
      // The bounded batch took all five and decided one; the next took four and decided three;
      // the last took the sell.
      { batchesAfterLead: 3 },
    );
    strictEqual(engine.stats.deferredOperations, deferredBefore + 4 + 1);
    deepStrictEqual(answers.map((a) => a.map((e) => show(e))), [
      ["opened{sym=X,amount=2,limit=10,id=7}"],
      ["opened{sym=X,amount=3,limit=10,id=8}"],
      ["opened{sym=X,amount=2,limit=10,id=9}"],
      ["error{id=5}"],
      ["opened{sym=X,amount=-1,limit=9,id=10}"],
    ]);
    strictEqual(answers[3]![0]!.text, "Order has nothing open to cancel");
    strictEqual(
      withoutTimes(await query(server.port, "1", "9")),
      "status{id=9}[executed{shares=1,price=10,time=T} executed{shares=1,price=10,time=T}]",
    );
    deepStrictEqual(
      [
        await balanceOf(server.db.sql, "1"),
        await balanceOf(server.db.sql, "2"),
        await balanceOf(server.db.sql, "3"),
        await sharesOf(server.db.sql, "1", "X"),
        await sharesOf(server.db.sql, "2", "X"),
        await sharesOf(server.db.sql, "3", "X"),
      ],
      ["960", "970", "70", "4", "3", "13"],
    );
  } finally {
    locker.release();
    await server.close();
  }
});

/**
 * Queues account 1's buy of `shares` on X (the sweep) and account 4's sell on Y so that the next
 * batch takes them together: both batch slots are first taken by leads of account 9 waiting for
 * books X and Z, held by `lockerX` and `lockerZ` (released by the caller, X first).
 */
async function sweepBesideY(
  server: TestServer,
  lockerX: ReservedSql,
  lockerZ: ReservedSql,
  shares: string,
) {
  const engine = server.service.engine;
  for (const [locker, sym] of [[lockerX, "X"], [lockerZ, "Z"]] as const) {
    await beginHolding(locker);
    await holdBook(locker, sym)();
  }
  const leadX = request(server, "9", ORDER("X", "-1", "50"));
  const leadZ = request(server, "9", ORDER("Z", "-1", "50"));
  await waitUntil("both leads wait", async () => (await lockWaiters(server)).length === 2);
  const sweep = request(server, "1", ORDER("X", shares, "10"));
  await waitUntil("the sweep is queued", () => engine.queued("X") === 1);
  const onY = request(server, "4", ORDER("Y", "-1", "20"));
  await waitUntil("the order on Y is queued", () => engine.queued("Y") === 1);
  return { leadX, leadZ, sweep, onY };
}

Deno.test("a deep sweep's batch lets go of the other books it took: their orders run beside it", async () => {
  const server = await startTestServer({ service: { batchRowsMax: 4 } });
  const lockerX = await server.db.sql.reserve();
  const lockerZ = await server.db.sql.reserve();
  const accountLocker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0", "4": "0", "9": "0" });
    await mint(server.port, "X", { "2": "6", "9": "1" });
    await mint(server.port, "Y", { "4": "5" });
    await mint(server.port, "Z", { "9": "1" });
    await transact(server.port, "2", ORDER("X", "-1", "10").repeat(6));
    const engine = server.service.engine;

    // The sweep (6 rows, past the bound of 4) and an order on Y, to be taken together.
    const { leadX, leadZ, sweep, onY } = await sweepBesideY(server, lockerX, lockerZ, "6");
    // Account 1 held from outside: the sweep, once decided, waits in its apply call.
    await beginHolding(accountLocker);
    await accountLocker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    const deferredBefore = engine.stats.deferredOperations;

    // X's lead goes; the next batch takes the sweep and the order on Y, decides the sweep whole
    // and leaves the order on Y to the next batch.
    await lockerX`ROLLBACK`;
    deepStrictEqual((await leadX).map((e) => e.name), ["opened"]);
    await waitUntil(
      "the sweep waits for account 1 beside Z's lead",
      async () => (await lockWaiters(server)).length === 2,
    );
    strictEqual(engine.stats.deferredOperations, deferredBefore + 1);
    // Z's lead goes, freeing a slot: the order on Y runs and is answered while the sweep still
    // waits. Had the sweep's transaction kept book Y (taken in its round trip 1) until its
    // COMMIT, the order on Y could not have committed before it.
    await lockerZ`ROLLBACK`;
    deepStrictEqual((await leadZ).map((e) => e.name), ["opened"]);
    deepStrictEqual((await onY).map((e) => e.name), ["opened"]);
    strictEqual((await lockWaiters(server)).length, 1, "the sweep still waits for account 1");
    await accountLocker`ROLLBACK`;
    deepStrictEqual((await sweep).map((e) => e.name), ["opened"]);
    const [fills] = await server.db.sql`SELECT count(*)::int AS n FROM executions`;
    strictEqual(fills!.n, 6);
  } finally {
    lockerX.release();
    lockerZ.release();
    accountLocker.release();
    await server.close();
  }
});

Deno.test("a sweep past the rows bound lets the other books' operations go before reading its depth", async () => {
  // 4,200 resting one-share sells on X; the bound is 4 rows. The batch that takes the sweep and
  // an order on Y learns from the sweep's first page that the sweep alone will pass the bound, so
  // the order on Y can only go to the next batch: it is let go then, not after the other 4,190
  // rows are read. The evidence is the rows the engine read: the sweep's depth once in its own
  // batch, plus only the first page of the attempt it was cut from (not its depth twice).
  // Deeper than LONG_BATCH_EXECUTIONS (src/db/book_batch.ts): the sweep's apply call is also
  // built in steps, with the event loop running between them.
  const depth = 4_200;
  const server = await startTestServer({ service: { batchRowsMax: 4 } });
  const lockerX = await server.db.sql.reserve();
  const lockerZ = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "100000", "2": "0", "4": "0", "9": "0" });
    await mint(server.port, "X", { "2": String(depth), "9": "1" });
    await mint(server.port, "Y", { "4": "5" });
    await mint(server.port, "Z", { "9": "1" });
    for (let placed = 0; placed < depth; placed += 600) {
      await transact(server.port, "2", ORDER("X", "-1", "10").repeat(600));
    }
    const engine = server.service.engine;
    const { leadX, leadZ, sweep, onY } = await sweepBesideY(
      server,
      lockerX,
      lockerZ,
      String(depth),
    );
    const deferredBefore = engine.stats.deferredOperations;
    const readBefore = engine.stats.bookRowsRead;

    await lockerX`ROLLBACK`;
    deepStrictEqual((await leadX).map((e) => e.name), ["opened"]);
    deepStrictEqual((await sweep).map((e) => e.name), ["opened"]);
    await lockerZ`ROLLBACK`;
    deepStrictEqual((await leadZ).map((e) => e.name), ["opened"]);
    deepStrictEqual((await onY).map((e) => e.name), ["opened"]);

    strictEqual(engine.stats.deferredOperations, deferredBefore + 1, "the order on Y was cut");
    const [fills] = await server.db.sql`SELECT count(*)::int AS n FROM executions`;
    strictEqual(fills!.n, depth);
    // Read: the sweep's depth in its own batch, the first page of the attempt it was cut from
    // (10 rows), and the small first pages of the leads and of Y's order (an empty side each).
    // Cut only after reading its depth, the sweep would have read it twice: over 8,400 rows.
    const read = engine.stats.bookRowsRead - readBefore;
    ok(read >= depth && read < depth + 50, `rows read: ${read}`);
  } finally {
    lockerX.release();
    lockerZ.release();
    await server.close();
  }
});
