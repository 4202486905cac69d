/**
 * What happened to a transaction whose connection broke with its COMMIT in flight.
 *
 * The COMMIT may have run or not; guessing either way gives some client a wrong answer ("placed"
 * for an order that is not there, or "nothing happened" for one that trades). PostgreSQL keeps
 * the answer: every transaction of the helper reads its own id (`pg_current_xact_id()`) and its
 * backend's pid before COMMIT is sent, and `pg_xact_status(id)` on any other connection says
 * `committed`, `aborted` or `in progress` (the old backend has not yet noticed that its client
 * went away: a silent network). An `in progress` transaction's backend is terminated, verified
 * by pid AND transaction id so that no other session is touched, and asked again: from then on
 * the answer cannot change.
 *
 * After a failover the new primary may never have seen the id (it was assigned on the old one
 * and its COMMIT never replicated): PostgreSQL then refuses the id as "in the future" (22023),
 * which means that this database holds nothing of it: aborted. Callers that can check the
 * transaction's writes do so as well (book_batch.ts checks the orders it placed), because once
 * the new primary has handed out that id to someone else, `pg_xact_status` answers for them.
 */
import type { ConnectionPool, Lease } from "./connection_pool.ts";

/** Who a transaction was: read inside it, before its COMMIT was sent. */
export interface TransactionIdentity {
  /** `pg_current_xact_id()` as text (a 64-bit xid8). */
  readonly xid: string;
  /** `pg_backend_pid()` of the session that ran it. */
  readonly pid: number;
}

/** The fate of a transaction whose COMMIT went unanswered. */
export type CommitFate = "committed" | "aborted" | "unknown";

/** Pause between attempts while the database cannot be reached. */
const RESOLVE_RETRY_MS = 100;
/** Pause after terminating the backend that still runs the transaction. */
const TERMINATED_SETTLE_MS = 20;

/** SQLSTATE for an id the server has not assigned yet (see the file comment). */
const XID_IN_FUTURE = "22023";

/**
 * Asks the database what became of `identity`'s transaction until it knows or `deadline` (a
 * `performance.now()` time) passes: then "unknown".
 */
export async function resolveCommit(
  pool: ConnectionPool,
  identity: TransactionIdentity,
  deadline: number,
): Promise<CommitFate> {
  while (performance.now() < deadline) {
    let lease: Lease | undefined;
    try {
      lease = await pool.acquire(deadline);
      const fate = await askOnce(lease, identity);
      lease.release();
      if (fate !== "in progress") {
        return fate;
      }
      await sleep(TERMINATED_SETTLE_MS);
    } catch (error) {
      lease?.release();
      if ((error as { code?: string }).code === XID_IN_FUTURE) {
        return "aborted";
      }
      // Anything else (unreachable, refusing connections, a database not accepting them, an
      // answer this code does not expect) leaves the question open: ask again until the
      // deadline, then say so. Guessing is never an option here.
      await sleep(Math.min(RESOLVE_RETRY_MS, Math.max(0, deadline - performance.now())));
    }
  }
  return "unknown";
}

async function askOnce(
  lease: Lease,
  identity: TransactionIdentity,
): Promise<"committed" | "aborted" | "in progress"> {
  const [row] = await lease.race(
    lease.sql`SELECT pg_xact_status(${identity.xid}::xid8) AS status`.execute(),
  );
  const status = row?.status as string | null;
  if (status === "committed" || status === "aborted") {
    return status;
  }
  if (status === "in progress") {
    // The 32-bit form is what pg_stat_activity shows; the pid alone could be a new session.
    const xid32 = (BigInt(identity.xid) & 0xffff_ffffn).toString();
    await lease.race(
      lease.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE pid = ${identity.pid} AND backend_xid::text = ${xid32}`.execute(),
    );
    return "in progress";
  }
  // NULL: the id is older than the status PostgreSQL keeps (wraparound horizon); cannot happen
  // within the seconds this waits, so it is a bug to report, not a guess to make.
  throw new Error(`pg_xact_status(${identity.xid}) answered ${status}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
