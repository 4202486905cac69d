/**
 * Every wait of a database operation is bounded: for a pool connection (acquire timeout), for
 * a lock (lock_timeout), and a session idle inside a transaction is ended by PostgreSQL
 * (idle_in_transaction_session_timeout), releasing its locks.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { isUnavailable } from "../../src/db/errors.ts";
import { decimalFromDatabase } from "../../src/exchange/decimal.ts";
import { SERVICE_UNAVAILABLE } from "../../src/server/exchange_service.ts";
import { freshDatabase, startTestServer } from "../support/harness.ts";
import { describe, results } from "../support/xml.ts";

Deno.test("an operation that finds no free pool connection within the acquire timeout is answered unavailable", async () => {
  const server = await startTestServer({ database: { poolSize: 1, acquireTimeoutMs: 100 } });
  // The pool's only connection is taken, and stays taken until the answer has come.
  const holder = await server.db.pool.acquire(Infinity);
  try {
    const during = results(
      await sendText(server.port, `<create><account id="1" balance="1"/></create>`),
    );
    deepStrictEqual(during.map((e) => [e.name, e.attributes.id, e.text]), [
      ["error", "1", SERVICE_UNAVAILABLE],
    ]);
  } finally {
    holder.release();
  }
  // The waiter left the queue at its deadline: the pool serves again.
  deepStrictEqual(
    results(await sendText(server.port, `<create><account id="1" balance="1"/></create>`))
      .map(describe),
    ["created{id=1}"],
  );
  await server.close();
});

Deno.test("ConnectionPool.acquire rejects with an unavailable error at its deadline", async () => {
  const db = await freshDatabase({ poolSize: 1 });
  const holder = await db.pool.acquire(Infinity);
  try {
    const error = await db.pool.acquire(performance.now() + 50).then(
      () => undefined,
      (e: unknown) => e,
    );
    ok(error instanceof Error && isUnavailable(error), String(error));
    strictEqual(db.pool.waiting(), 0, "the waiter left the queue");
    holder.release();
    // The pool's one connection serves the next lease.
    const lease = await db.pool.acquire(performance.now() + 5_000);
    const [row] = await lease.sql`SELECT 1 AS one`;
    lease.release();
    strictEqual(row!.one, 1);
  } finally {
    await db.close();
  }
});

Deno.test("pool sessions carry lock_timeout and idle_in_transaction_session_timeout", async () => {
  const db = await freshDatabase({ lockTimeoutMs: 1234, idleInTransactionTimeoutMs: 2345 });
  try {
    const [row] = await db.sql`SELECT current_setting('lock_timeout') AS lock,
                                      current_setting('idle_in_transaction_session_timeout') AS idle`;
    deepStrictEqual([row!.lock, row!.idle], ["1234ms", "2345ms"]);
  } finally {
    await db.close();
  }
});

Deno.test("an order waiting for a held book lock longer than lock_timeout is rolled back and answered", async () => {
  const server = await startTestServer({ database: { lockTimeoutMs: 200 } });
  const blocker = await server.db.sql.reserve();
  try {
    await sendText(
      server.port,
      `<create><account id="1" balance="100"/><symbol sym="A"><account id="1">5</account></symbol></create>`,
    );
    await blocker`BEGIN`;
    await blocker`SELECT sym FROM symbols WHERE sym = 'A' FOR UPDATE`;
    // The lock is held until the answer has come, so only lock_timeout can end the wait.
    const answer = results(
      await sendText(
        server.port,
        `<transactions id="1"><order sym="A" amount="-5" limit="10"/></transactions>`,
      ),
    );
    strictEqual(answer[0]!.name, "error");
    strictEqual(answer[0]!.text, "Operation timed out in the database and was rolled back");
    await blocker`ROLLBACK`;
    const [open] = await server.db.sql`SELECT count(*)::int AS n FROM orders`;
    strictEqual(open!.n, 0);
  } finally {
    blocker.release();
    await server.close();
  }
});

Deno.test("PostgreSQL ends a pool session left idle in a transaction, releasing its locks", async () => {
  const db = await freshDatabase({ idleInTransactionTimeoutMs: 200, lockTimeoutMs: 60_000 });
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 0, 0)`;
    // A stalled holder: it locks the row and then does nothing. (A lease: when PostgreSQL ends
    // its session, the pool sees the close and sends nothing more on it.)
    const stalled = await db.pool.acquire(Infinity);
    await stalled.sql`BEGIN`;
    await stalled.sql`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    // Another session wants the row; it gets it only because PostgreSQL ended the stalled one.
    const other = await db.sql.reserve();
    const [row] = await other`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    strictEqual(row!.id, "1");
    other.release();
    const deadline = performance.now() + 10_000;
    while (!stalled.isLost()) {
      ok(performance.now() < deadline, "the stalled session was ended");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stalled.release();
  } finally {
    await db.close();
  }
});

Deno.test("an operation submitted with too little time left is answered unavailable without running", async () => {
  const server = await startTestServer();
  try {
    await sendText(
      server.port,
      `<create><account id="1" balance="1000"/><symbol sym="X"><account id="1">10</account>` +
        `</symbol></create>`,
    );
    const engine = server.service.engine;
    const batchesBefore = engine.stats.batches;
    const order = {
      kind: "order",
      sym: "X",
      accountId: "1",
      side: "sell",
      shares: decimalFromDatabase("1"),
      limit: decimalFromDatabase("10"),
    } as const;
    // What is left of a request's deadline (transactions.ts: its children share one) is less
    // than the reserve for resolving a COMMIT: nothing is run.
    const late = await engine.submit(order, performance.now() + server.db.commitResolveMs / 2);
    strictEqual(late.kind, "failed");
    ok(isUnavailable((late as { error: unknown }).error));
    strictEqual(engine.stats.batches, batchesBefore, "no batch ran");
    // With time left, the same order runs.
    strictEqual((await engine.submit(order)).kind, "opened");
    strictEqual(engine.stats.batches, batchesBefore + 1);
  } finally {
    await server.close();
  }
});
