/**
 * A batch whose connection breaks with its COMMIT in flight is answered with what PostgreSQL
 * says happened, never with a guess:
 * - committed: the real answers, ids included (read back through migrations/006's record);
 * - aborted: `Service unavailable` (nothing happened), and the next order takes the next id;
 * - the database cannot be asked before the deadline: `Outcome unknown`, which never claims
 *   that nothing happened (and here it did happen).
 *
 * A COMMIT is held in flight deterministically with synchronous replication to a standby that
 * does not exist: the transaction is committed locally and its backend waits (`SyncRep`, seen
 * in pg_stat_activity) for an acknowledgement that never comes. Only this test's database
 * commits synchronously (`ALTER DATABASE ... SET synchronous_commit = on`); the shared test
 * cluster otherwise runs with `synchronous_commit = off`, so other databases never wait.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { transactionStats } from "../../src/db/transaction.ts";
import { OUTCOME_UNKNOWN, SERVICE_UNAVAILABLE } from "../../src/xml/answers.ts";
import { openPool } from "../../src/db/database.ts";
import {
  startTestServer,
  testCluster,
  testDatabaseConfig,
  type TestServer,
} from "../support/harness.ts";
import { beginHolding, lockWaiterPids } from "../support/lock_wait.ts";
import { createAccounts, mint } from "./exchange_fixture.ts";
import { results } from "../support/xml.ts";

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const found = await probe();
    if (found !== undefined) {
      return found;
    }
    if (performance.now() > deadline) {
      throw new Error(`never happened: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The pid of a server session whose COMMIT waits for the missing standby. */
function syncRepWaiter(server: TestServer): Promise<number> {
  return waitFor("a COMMIT waits for synchronous replication", async () => {
    const rows = await server.db.sql`SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event = 'SyncRep'
        AND application_name LIKE 'exchange-test/%'`;
    return rows.length > 0 ? rows[0]!.pid as number : undefined;
  });
}

/** Makes this database's commits wait for a standby that never comes; returns the undo. */
async function holdCommits(server: TestServer): Promise<() => Promise<void>> {
  const sql = server.db.sql;
  const [{ name }] = await sql`SELECT current_database() AS name` as unknown as [
    { name: string },
  ];
  await sql.unsafe(`ALTER SYSTEM SET synchronous_standby_names = 'no_such_standby'`);
  await sql`SELECT pg_reload_conf()`;
  await sql.unsafe(`ALTER DATABASE "${name}" SET synchronous_commit = on`);
  // The server's sessions read the setting when they connect: end the ones it has (its pool
  // drops them and connects again on next use).
  await dropServerSessions(server);
  return async () => {
    await sql.unsafe(`ALTER DATABASE "${name}" RESET synchronous_commit`);
    await sql.unsafe(`ALTER SYSTEM RESET synchronous_standby_names`);
    await sql`SELECT pg_reload_conf()`;
    await dropServerSessions(server);
  };
}

async function dropServerSessions(server: TestServer): Promise<void> {
  await server.db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name LIKE 'exchange-test/%'`;
  // Let the close events reach the pool before the next request.
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function order(server: TestServer, account: string, inner: string) {
  return results(
    await sendText(server.port, `<transactions id="${account}">${inner}</transactions>`),
  );
}

Deno.test("a batch whose connection breaks after COMMIT was sent, and that committed, gets its real answers", async () => {
  const server = await startTestServer();
  let undo: (() => Promise<void>) | undefined;
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "10" });
    undo = await holdCommits(server);
    const before = transactionStats.inDoubtCommitted;
    const answer = order(server, "1", `<order sym="X" amount="3" limit="10"/>`);
    const pid = await syncRepWaiter(server);
    // Committed locally, not yet answered: the connection breaks now.
    await server.db.sql`SELECT pg_terminate_backend(${pid})`;
    const [opened] = await answer;
    strictEqual(opened!.name, "opened", opened!.text);
    strictEqual(opened!.attributes.id, "1");
    strictEqual(transactionStats.inDoubtCommitted, before + 1);
    await undo();
    undo = undefined;
    const rows = await server.db.sql`SELECT id::text AS id, amount::text AS amount FROM orders`;
    deepStrictEqual(rows.map((r) => [r.id, r.amount]), [["1", "3"]]);
    // Placed once: the next order is number 2.
    const [next] = await order(server, "1", `<order sym="X" amount="1" limit="10"/>`);
    strictEqual(next!.attributes.id, "2");
  } finally {
    await undo?.();
    await server.close();
  }
});

Deno.test("a batch whose connection breaks with COMMIT in flight, and that rolled back, is answered unavailable", async () => {
  const server = await startTestServer();
  const locker = await server.db.sql.reserve();
  try {
    await createAccounts(server.port, { "1": "1000" });
    await mint(server.port, "X", { "1": "10" });
    // The apply call locks account 1 and waits: COMMIT is already sent behind it.
    await beginHolding(locker);
    await locker`SELECT id FROM accounts WHERE id = '1' FOR UPDATE`;
    const before = transactionStats.inDoubtAborted;
    const answer = order(server, "1", `<order sym="X" amount="3" limit="10"/>`);
    const [pid] = await waitFor("the batch waits for the account lock", async () => {
      const pids = await lockWaiterPids(server.db.sql, "exchange-test");
      return pids.length > 0 ? pids : undefined;
    });
    await server.db.sql`SELECT pg_terminate_backend(${pid!})`;
    const [failed] = await answer;
    deepStrictEqual([failed!.name, failed!.text], ["error", SERVICE_UNAVAILABLE]);
    strictEqual(transactionStats.inDoubtAborted, before + 1);
    await locker`ROLLBACK`;
    const rows = await server.db.sql`SELECT count(*)::int AS n FROM orders`;
    strictEqual(rows[0]!.n, 0, "nothing happened");
    const [next] = await order(server, "1", `<order sym="X" amount="1" limit="10"/>`);
    strictEqual(next!.attributes.id, "1");
  } finally {
    locker.release();
    await server.close();
  }
});

Deno.test("a COMMIT in flight that cannot be resolved before the deadline is answered Outcome unknown", async () => {
  const server = await startTestServer({
    database: { operationTimeoutMs: 1_500, commitResolveMs: 500 },
  });
  let undo: (() => Promise<void>) | undefined;
  const [{ name }] = await server.db.sql`SELECT current_database() AS name` as unknown as [
    { name: string },
  ];
  // From another database: a session cannot close its own database to connections.
  const { pg } = await testCluster();
  const admin = openPool(pg.target("postgres"), testDatabaseConfig({ poolSize: 1 }), "admin");
  let refusing = false;
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "10" });
    undo = await holdCommits(server);
    const before = transactionStats.inDoubtUnknown;
    const answer = order(server, "1", `<order sym="X" amount="3" limit="10"/>`);
    await syncRepWaiter(server);
    // No new connection can be made to ask what happened (the admin session already exists).
    await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    refusing = true;
    const [unknown] = await answer;
    deepStrictEqual([unknown!.name, unknown!.text], ["error", OUTCOME_UNKNOWN]);
    ok(!unknown!.text.includes("try again"), "never the words for nothing happened");
    strictEqual(transactionStats.inDoubtUnknown, before + 1);
    await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    refusing = false;
    await undo();
    undo = undefined;
    // It had committed locally: the honest answer was "unknown", not "unavailable".
    const rows = await server.db.sql`SELECT amount::text AS amount FROM orders`;
    deepStrictEqual(rows.map((r) => r.amount), ["3"]);
  } finally {
    if (refusing) {
      await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    }
    await admin.end();
    await undo?.();
    await server.close();
  }
});
