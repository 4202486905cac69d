/** Deterministic evidence that a session waits for a lock: PostgreSQL's own activity view. */
import type { Sql } from "../../src/db/database.ts";

const POLL_MS = 10;
const WAIT_MAX_MS = 60_000;

/**
 * Resolves once at least `count` sessions whose application_name starts with `application`
 * wait for a lock (`pg_stat_activity.wait_event_type = 'Lock'`); throws after a minute.
 */
export async function sessionsWaitingForLock(
  sql: Sql,
  application: string,
  count = 1,
): Promise<void> {
  const deadline = performance.now() + WAIT_MAX_MS;
  for (;;) {
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity
                            WHERE wait_event_type = 'Lock'
                              AND application_name LIKE ${application + "%"}`;
    if (row!.n >= count) {
      return;
    }
    if (performance.now() > deadline) {
      throw new Error(`no session of ${application} waited for a lock within ${WAIT_MAX_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
