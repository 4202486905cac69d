/**
 * The classification of database errors, on errors that PostgreSQL and the driver really raise:
 * a statement timeout, a refused requirement, a unique violation, a terminated connection.
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import {
  errorCode,
  isRetryable,
  isTimeout,
  isUnavailable,
  isUniqueViolation,
  REQUIREMENT_FAILED,
  requirementFailure,
} from "../../src/db/errors.ts";
import { freshDatabase } from "../support/harness.ts";

/** The error `run` rejects with. */
async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  let caught: unknown;
  await rejects(async () => {
    try {
      await run();
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  return caught;
}

Deno.test("a statement canceled by statement_timeout is a timeout, not retryable, not unavailability", async () => {
  const db = await freshDatabase();
  try {
    const error = await errorOf(() =>
      db.sql.begin(async (tx) => {
        await tx`SET LOCAL statement_timeout = 50`;
        await tx`SELECT pg_sleep(5)`;
      })
    );
    strictEqual(errorCode(error), "57014");
    ok(isTimeout(error));
    ok(!isRetryable(error));
    ok(!isUnavailable(error));
    strictEqual(requirementFailure(error), undefined);
  } finally {
    await db.close();
  }
});

Deno.test("a failed exchange_require() gives its reason; other errors give none", async () => {
  const db = await freshDatabase();
  try {
    const refusal = await errorOf(() => db.sql`SELECT exchange_require(false, 'Not enough cash')`);
    strictEqual(errorCode(refusal), REQUIREMENT_FAILED);
    strictEqual(requirementFailure(refusal), "Not enough cash");
    ok(!isTimeout(refusal) && !isRetryable(refusal) && !isUnavailable(refusal));

    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 0, 0)`;
    const duplicate = await errorOf(() =>
      db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 0, 0)`
    );
    ok(isUniqueViolation(duplicate));
    strictEqual(requirementFailure(duplicate), undefined);
    ok(!isUniqueViolation(refusal));
  } finally {
    await db.close();
  }
});

Deno.test("a connection terminated by the server counts as the database being unavailable", async () => {
  const db = await freshDatabase();
  try {
    // The backend is terminated while its statement runs, and nothing more is sent on it: a
    // statement queued on a connection that has just closed makes postgres.js write to a null
    // socket from a timer (an uncaught TypeError that failed this whole module once under load;
    // the server's leased pool never sends one, see connection_pool.ts).
    const lease = await db.pool.acquire(performance.now() + 10_000);
    const [{ pid }] = await lease.sql`SELECT pg_backend_pid() AS pid` as unknown as [
      { pid: number },
    ];
    const error = await errorOf(async () => {
      const sleeping = lease.sql`SELECT pg_sleep(30)`.execute();
      sleeping.catch(() => {});
      for (let tries = 0; tries < 1_000; tries++) {
        const [running] = await db.sql`SELECT 1 FROM pg_stat_activity
                                       WHERE pid = ${pid} AND query LIKE '%pg_sleep%'`;
        if (running !== undefined) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await db.sql`SELECT pg_terminate_backend(${pid})`;
      await sleeping;
    });
    lease.release();
    ok(isUnavailable(error), `code ${errorCode(error)}`);
    ok(!isRetryable(error) && !isTimeout(error));
  } finally {
    // postgres.js waits out end()'s whole timeout for the terminated connection (5 s in close()).
    await db.abandon();
  }
});

Deno.test("errors without a string code are unknown and never unavailable or retryable", () => {
  for (const error of [new Error("plain"), "text", null, undefined, { code: 57014 }]) {
    strictEqual(errorCode(error), "unknown");
    ok(!isUnavailable(error) && !isRetryable(error) && !isTimeout(error));
  }
  // SQLSTATE classes 08 (connection exception) and 57P (shutdown) are unavailability.
  ok(isUnavailable({ code: "08006" }) && isUnavailable({ code: "57P03" }));
  ok(!isUnavailable({ code: "57014" }));
});
