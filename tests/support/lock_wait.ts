/** Deterministic evidence that a session waits for a lock: PostgreSQL's own activity view. */
import type { ReservedSql, Sql } from "../../src/db/database.ts";

const POLL_MS = 10;
const WAIT_MAX_MS = 60_000;

/**
 * BEGIN on a session that will hold locks while the test waits for what they cause. The pool's
 * sessions end a transaction idle for `--idle-in-transaction-timeout-ms` (10 s by default),
 * which on a slow, loaded machine could release the locks in the middle of the test; this one
 * transaction is exempt (SET LOCAL: the session's own setting is untouched after it ends).
 */
export async function beginHolding(session: ReservedSql | Sql): Promise<void> {
  await session`BEGIN`;
  await session`SET LOCAL idle_in_transaction_session_timeout = 0`;
}

/** Pids of the sessions of `application`, in `sql`'s database, that wait for a lock right now. */
export async function lockWaiterPids(sql: Sql, application: string): Promise<number[]> {
  const pattern = application + "%";
  const rows = await sql`SELECT pid FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'
                           AND application_name LIKE ${pattern}`;
  return rows.map((row) => row.pid as number);
}

/**
 * Resolves once at least `count` sessions whose application_name starts with `application`, in
 * `sql`'s database, wait for a lock (`pg_stat_activity.wait_event_type = 'Lock'`); throws after a minute.
 */
export async function sessionsWaitingForLock(
  sql: Sql,
  application: string,
  count = 1,
): Promise<void> {
  const deadline = performance.now() + WAIT_MAX_MS;
  for (;;) {
    if ((await lockWaiterPids(sql, application)).length >= count) {
      return;
    }
    if (performance.now() > deadline) {
      throw new Error(`no session of ${application} waited for a lock within ${WAIT_MAX_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
