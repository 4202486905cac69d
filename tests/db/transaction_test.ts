import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import {
  CommittedAnswerError,
  done,
  inTransaction,
  refused,
  transactionStats,
} from "../../src/db/transaction.ts";
import { freshDatabase } from "../support/harness.ts";

Deno.test("inTransaction commits on done, rolls back on refusal and on throw, leaving no lock", async () => {
  const db = await freshDatabase();
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 10, 10)`;
    await inTransaction(db, async (tx) => {
      await tx`UPDATE accounts SET balance = 11 WHERE id = '1'`;
      return done(undefined);
    });
    const refusedOutcome = await inTransaction(db, async (tx) => {
      await tx`UPDATE accounts SET balance = 12 WHERE id = '1'`;
      return refused("no");
    });
    deepStrictEqual(refusedOutcome, { ok: false, message: "no" });
    await rejects(
      inTransaction(db, async (tx) => {
        await tx`UPDATE accounts SET balance = 13 WHERE id = '1'`;
        throw new Error("boom");
      }),
      /boom/,
    );
    await rejects(
      inTransaction(db, async (tx) => {
        await tx`UPDATE accounts SET balance = -1 WHERE id = '1'`;
        return done(undefined);
      }),
      (error: { code?: string }) => error.code === "23514",
    );
    const [row] = await db.sql`SELECT balance::text AS balance FROM accounts WHERE id = '1'`;
    strictEqual(row!.balance, "11");
    // Nothing is left locked or open: a NOWAIT lock succeeds and no session is idle in transaction.
    await db.sql`SELECT 1 FROM accounts WHERE id = '1' FOR UPDATE NOWAIT`;
    const [open] = await db.sql`SELECT count(*)::int AS n FROM pg_stat_activity
                                WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
    strictEqual(open!.n, 0);
  } finally {
    await db.close();
  }
});

Deno.test("inTransaction runs a deadlocked transaction again and both succeed", async () => {
  const db = await freshDatabase();
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 0, 0), ('2', 0, 0)`;
    await db.sql`SET deadlock_timeout = '50ms'`;
    const retriedBefore = transactionStats.retried;
    // Two transactions lock the same two rows in opposite orders; PostgreSQL kills one (40P01).
    let arrived = 0;
    let release: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      release = resolve;
    });
    const attempts = { a: 0, b: 0 };
    const run = (first: string, second: string, key: "a" | "b") =>
      inTransaction(db, async (tx) => {
        attempts[key]++;
        await tx`SET LOCAL deadlock_timeout = '50ms'`;
        await tx`UPDATE accounts SET balance = balance + 1 WHERE id = ${first}`;
        if (attempts[key] === 1) {
          arrived++;
          if (arrived === 2) release();
          await barrier;
        }
        await tx`UPDATE accounts SET balance = balance + 1 WHERE id = ${second}`;
        return done(key);
      });
    const outcomes = await Promise.all([run("1", "2", "a"), run("2", "1", "b")]);
    deepStrictEqual(outcomes, [{ ok: true, value: "a" }, { ok: true, value: "b" }]);
    ok(transactionStats.retried > retriedBefore, "one of them was retried");
    ok(attempts.a + attempts.b >= 3);
    const rows = await db.sql`SELECT balance::text AS balance FROM accounts ORDER BY id`;
    deepStrictEqual(rows.map((r) => r.balance), ["2", "2"]);
  } finally {
    await db.close();
  }
});

Deno.test("inTransaction says so when its deferred statements committed but reading their results threw", async () => {
  const db = await freshDatabase();
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 10, 10)`;
    const error = await inTransaction(db, (tx) =>
      Promise.resolve({
        deferred: tx`UPDATE accounts SET balance = 20 WHERE id = '1'`.execute().then(() => {
          throw new Error("answer building failed");
        }),
      })).then(() => undefined, (e) => e);
    // The UPDATE committed: the caller must not be told that it was rolled back.
    ok(error instanceof CommittedAnswerError, String(error));
    strictEqual((error.cause as Error).message, "answer building failed");
    const [row] = await db.sql`SELECT balance::text AS balance FROM accounts WHERE id = '1'`;
    strictEqual(row!.balance, "20");
  } finally {
    await db.close();
  }
});

Deno.test("inTransaction recovers the answer of a unit whose statements and COMMIT ran but whose answers were lost", async () => {
  const db = await freshDatabase();
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 10, 10)`;
    let backend = 0;
    const committedBefore = transactionStats.inDoubtCommitted;
    const outcome = await inTransaction(db, async (tx) => {
      const [row] = await tx`SELECT pg_backend_pid() AS pid`;
      backend = row!.pid as number;
      return {
        // The UPDATE and the COMMIT behind it run; its answer is "lost": the promise the
        // helper waits for settles only when the connection goes.
        deferred: tx`UPDATE accounts SET balance = 20 WHERE id = '1'`.execute().then(
          () => new Promise<never>(() => {}),
        ),
        recover: async (sql, identity) => {
          const [found] = await sql`SELECT balance::text AS balance, ${identity.xid} AS xid
                                    FROM accounts WHERE id = '1'`;
          return `recovered ${found!.balance}`;
        },
      };
    }, {
      deadline: performance.now() + 1_000,
      resolveDeadline: performance.now() + 5_000,
    });
    // The deadline destroyed the connection with COMMIT in flight; PostgreSQL said committed.
    deepStrictEqual(outcome, { ok: true, value: "recovered 20" });
    strictEqual(transactionStats.inDoubtCommitted, committedBefore + 1);
    ok(backend > 0);
  } finally {
    await db.close();
  }
});
