/**
 * Only what must be serialized is: a held book lock on one symbol stops orders on that symbol
 * and nothing else, not even other orders of the same account; and a batch held up after it took
 * its book locks holds up no other book.
 */
import { ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { startTestServer } from "../support/harness.ts";
import { beginHolding, lockWaiterPids, sessionsWaitingForLock } from "../support/lock_wait.ts";
import { results } from "../support/xml.ts";

Deno.test("a held book lock delays orders on its symbol only, not on other symbols or of the same account", async () => {
  const server = await startTestServer();
  const blocker = await server.db.sql.reserve();
  try {
    await sendText(
      server.port,
      `<create><account id="1" balance="100000"/><account id="2" balance="100000"/>` +
        `<symbol sym="A"><account id="1">100</account></symbol>` +
        `<symbol sym="B"><account id="1">100</account><account id="2">100</account></symbol></create>`,
    );
    // An outside transaction holds A's book lock (level 1 of the global order).
    await beginHolding(blocker);
    await blocker`SELECT sym FROM symbols WHERE sym = 'A' FOR UPDATE`;

    const blocked = sellOnA(server.port);
    // PostgreSQL itself shows the order on A waiting for the lock.
    await sessionsWaitingForLock(server.db.sql, "exchange-test");
    // Meanwhile, orders on B complete, from another account and from the same account: the
    // lock on A is held throughout, so had they needed it they would never have completed.
    for (const account of ["2", "1"]) {
      const answer = results(
        await sendText(
          server.port,
          `<transactions id="${account}"><order sym="B" amount="-1" limit="10"/></transactions>`,
        ),
      );
      strictEqual(answer[0]!.name, "opened", JSON.stringify(answer));
    }
    ok(!blocked.done, "the order on A waits for its book lock");
    const [waiting] = await server.db.sql`SELECT count(*)::int AS n FROM pg_stat_activity
                                          WHERE wait_event_type = 'Lock'
                                            AND application_name LIKE 'exchange-test/%'`;
    strictEqual(waiting!.n, 1, "still exactly the order on A waits for a lock");

    await blocker`ROLLBACK`;
    strictEqual(results(await blocked.answer)[0]!.name, "opened");
  } finally {
    blocker.release();
    await server.close();
  }
});

Deno.test("a batch held up after it took its book locks does not hold up the other books", async () => {
  const server = await startTestServer();
  const blocker = await server.db.sql.reserve();
  try {
    await sendText(
      server.port,
      `<create><account id="1" balance="100000"/><account id="2" balance="100000"/>` +
        `<symbol sym="A"><account id="1">100</account></symbol>` +
        `<symbol sym="B"><account id="2">100</account></symbol></create>`,
    );
    // An outside transaction holds account 1 (level 3 of the global order): a batch with an
    // order of account 1 takes its book lock on A, decides, and then waits in the apply call.
    // It is not waiting for a book lock, so only the rule on how long a batch has taken
    // (--batch-long-ms) lets another batch start beside it.
    await beginHolding(blocker);
    await blocker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;

    const blocked = sellOnA(server.port);
    await sessionsWaitingForLock(server.db.sql, "exchange-test");
    const [holder] = await server.db.sql`SELECT count(*)::int AS n FROM pg_locks AS l
                                         JOIN pg_stat_activity AS a USING (pid)
                                         WHERE a.application_name LIKE 'exchange-test/%'
                                           AND l.granted AND l.locktype = 'transactionid'
                                           AND a.wait_event_type = 'Lock'`;
    strictEqual(holder!.n, 1, "the waiting batch holds a transaction (its book lock on A)");

    // Orders on B, of account 2, complete while the batch on A still waits.
    for (let i = 0; i < 3; i++) {
      const answer = results(
        await sendText(
          server.port,
          `<transactions id="2"><order sym="B" amount="-1" limit="10"/></transactions>`,
        ),
      );
      strictEqual(answer[0]!.name, "opened", JSON.stringify(answer));
    }
    ok(!blocked.done, "the order on A still waits for account 1");
    strictEqual((await lockWaiterPids(server.db.sql, "exchange-test")).length, 1);

    await blocker`ROLLBACK`;
    strictEqual(results(await blocked.answer)[0]!.name, "opened");
  } finally {
    blocker.release();
    await server.close();
  }
});

/** Account 1 sells 5 on A, on its own connection; `done` says whether it has been answered. */
function sellOnA(port: number): { answer: Promise<string>; done: boolean } {
  const order = {
    done: false,
    answer: sendText(
      port,
      `<transactions id="1"><order sym="A" amount="-5" limit="10"/></transactions>`,
    ).then((answer) => {
      order.done = true;
      return answer;
    }),
  };
  return order;
}
