/**
 * The leased pool against a real PostgreSQL: a connection is known lost from its close event
 * (never from an error code), nothing is sent on it afterwards, it is never lent again, and a
 * lease that outlives its deadline is destroyed.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ConnectionLostError, DeadlineError } from "../../src/db/connection_pool.ts";
import { isUnavailable } from "../../src/db/errors.ts";
import { freshDatabase } from "../support/harness.ts";

async function waitUntil(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`never happened: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("Lease is lost when its backend is terminated between two statements, and sends nothing more", async () => {
  const db = await freshDatabase({ poolSize: 1 });
  try {
    const lease = await db.pool.acquire(performance.now() + 10_000);
    await lease.sql`BEGIN`;
    const [{ pid }] = await lease.sql`SELECT pg_backend_pid() AS pid` as unknown as [
      { pid: number },
    ];
    // The transaction holds nothing yet; the backend dies while the client "thinks".
    await db.sql`SELECT pg_terminate_backend(${pid})`;
    await waitUntil("the close event marks the lease lost", () => lease.isLost());
    // A statement now is refused before it is sent: it can run on no other session.
    const refusal = await Promise.resolve().then(() => lease.sql`SELECT 1`).then(
      () => undefined,
      (error: unknown) => error,
    );
    ok(refusal instanceof ConnectionLostError, String(refusal));
    ok(isUnavailable(refusal));
    lease.release();
    // The slot opens a fresh connection: another backend, which serves.
    const next = await db.pool.acquire(performance.now() + 10_000);
    const [row] = await next.sql`SELECT pg_backend_pid() AS pid`;
    next.release();
    ok(row!.pid !== pid, "a new backend");
  } finally {
    await db.close();
  }
});

Deno.test("Lease.race answers a statement's caller at once when the connection closes under it", async () => {
  const db = await freshDatabase({ poolSize: 1, statementTimeoutMs: 60_000 });
  try {
    const lease = await db.pool.acquire(performance.now() + 30_000);
    const [{ pid }] = await lease.sql`SELECT pg_backend_pid() AS pid` as unknown as [
      { pid: number },
    ];
    // Observed at once: the close event can reject it before the terminate's own answer comes.
    const sleeping = lease.race(lease.sql`SELECT pg_sleep(30)`.execute()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await db.sql`SELECT pg_terminate_backend(${pid})`;
    const error = await sleeping;
    ok(isUnavailable(error), String(error));
    ok(lease.isLost());
    lease.release();
  } finally {
    await db.close();
  }
});

Deno.test("Lease past its deadline is destroyed and its backend goes away", async () => {
  const db = await freshDatabase({ poolSize: 1, statementTimeoutMs: 60_000 });
  try {
    const lease = await db.pool.acquire(performance.now() + 10_000, performance.now() + 300);
    const [{ pid }] = await lease.sql`SELECT pg_backend_pid() AS pid` as unknown as [
      { pid: number },
    ];
    const error = await lease.race(lease.sql`SELECT pg_sleep(30)`.execute()).then(
      () => undefined,
      (e: unknown) => e,
    );
    ok(error instanceof DeadlineError, String(error));
    lease.release();
    // client_connection_check_interval lets the backend notice that its client went away.
    const deadline = performance.now() + 15_000;
    for (;;) {
      const rows = await db.sql`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`;
      if (rows.length === 0) {
        break;
      }
      ok(performance.now() < deadline, "the destroyed connection's backend ended");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const next = await db.pool.acquire(performance.now() + 10_000);
    deepStrictEqual([...await next.sql`SELECT 1 AS one`].map((r) => r.one), [1]);
    next.release();
  } finally {
    await db.close();
  }
});

Deno.test("ConnectionPool drops an idle connection whose backend was terminated", async () => {
  const db = await freshDatabase({ poolSize: 1 });
  try {
    const first = await db.pool.acquire(performance.now() + 10_000);
    const [{ pid }] = await first.sql`SELECT pg_backend_pid() AS pid` as unknown as [
      { pid: number },
    ];
    first.release();
    await db.sql`SELECT pg_terminate_backend(${pid})`;
    // Whether or not the close event came yet, the next lease works on a live session.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = await db.pool.acquire(performance.now() + 10_000);
    const [row] = await next.sql`SELECT pg_backend_pid() AS pid`;
    next.release();
    ok(row!.pid !== pid);
    strictEqual(db.pool.inUse(), 0);
  } finally {
    await db.close();
  }
});
