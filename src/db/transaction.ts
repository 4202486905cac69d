/**
 * The only place that writes BEGIN, COMMIT and ROLLBACK.
 *
 * A unit of work runs on one leased connection (src/db/connection_pool.ts) inside BEGIN ...
 * COMMIT. The work returns an {@link Outcome}: `ok` commits, a refusal (insufficient funds,
 * unknown order) rolls back, and so does any exception. ROLLBACK is issued in `finally` while
 * the connection lives, so no path leaves a transaction open or a row locked; a connection that
 * is lost or misbehaves is destroyed instead, and PostgreSQL rolls back what it held.
 *
 * To save a round trip while locks are held, a unit may instead return a {@link Deferred}: its
 * last statements are already sent, and COMMIT is sent right behind them without waiting.
 * Deferred statements must be sent with `.execute()` before the work returns: postgres.js
 * otherwise sends a query on the next tick, which would put it behind the COMMIT.
 *
 * What a broken connection means, statement by statement (the connection is known broken from
 * its close event, or from the unit's deadline, see connection_pool.ts):
 * - BEGIN, the identity read, the work's statements, ROLLBACK: nothing can have committed.
 *   The caller gets the connection error ("unavailable": nothing happened); a deadlock or
 *   serialization failure runs the whole unit again, at most `retriesMax` times, before its
 *   deadline.
 * - COMMIT sent, its answer lost: the transaction may have committed. The helper reads the
 *   transaction's id and backend pid right after BEGIN (pipelined, no extra round trip), and
 *   asks PostgreSQL what happened (src/db/commit_resolution.ts): committed units return their
 *   real outcome (a deferred unit re-reads what its lost answers held through `recover`),
 *   aborted ones fail with the connection error; if the database stays unreachable past the
 *   resolve deadline, {@link OutcomeUnknownError}. A unit whose COMMIT was sent is never run
 *   again unless PostgreSQL answered that COMMIT with ROLLBACK.
 * - COMMIT answered: the answer is the truth (COMMIT, or ROLLBACK after a failed statement).
 *
 * Global lock order, which every unit of work follows so that no two can deadlock:
 *   1. symbol rows (`symbols ... FOR UPDATE`): the locks on those symbols' order books, all in
 *      one statement, ascending by symbol in the "C" collation (a batch may span several books);
 *   2. order rows of those symbols. Every write to an order row happens under its symbol's lock
 *      (placing, filling, canceling), so books are read without row locks; the rows a unit
 *      writes are row-locked by its UPDATE;
 *   3. account rows (`accounts ... FOR UPDATE`), all in one statement, ascending by id
 *      in the "C" collation;
 *   4. position rows (`positions`), written only under their symbol's lock.
 * A unit may skip levels but never goes back to a lower-numbered one. For a book batch, level 1
 * is round trip 1 of src/db/book_batch.ts, and levels 3 and 4 are taken inside
 * `exchange_apply_batch` (migrations/005_apply_batch.sql), which states the same order where it
 * locks. (A batch run again after a balance changed takes its level-3 locks in round trip 1,
 * right after level 1; accounts found only by its second decision are then locked after the
 * first ones, which can deadlock: PostgreSQL detects it and the helper runs the batch again.)
 */
import { AssertionError } from "../exchange/assert.ts";
import { ConnectionLostError, type Lease, type Sql } from "./connection_pool.ts";
import { resolveCommit, type TransactionIdentity } from "./commit_resolution.ts";
import type { Database } from "./database.ts";
import { isRetryable, isUnavailable } from "./errors.ts";

export type { TransactionIdentity };

/** What a unit of work decided: commit and answer `value`, or roll back and refuse. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The unit's final statements are in flight; `deferred` settles when they have run. It may be a
 * refusal only if one of those statements failed (so that the pipelined COMMIT rolls back).
 */
export interface Deferred<T> {
  deferred: Promise<Outcome<T>>;
  /**
   * Reads, on another connection, the value the deferred statements' lost answers held, once
   * their COMMIT was found committed. Without it such a unit fails with
   * {@link CommittedAnswerError} (it took effect, but its answer cannot be given).
   */
  recover?: (sql: Sql, identity: TransactionIdentity) => Promise<T>;
}

/**
 * The unit's statements committed, but the code that turns their results into an answer threw
 * (a bug), or the answer could not be read back after an in-doubt COMMIT. The work took effect:
 * the caller must say so, not that it was rolled back.
 */
export class CommittedAnswerError extends Error {
  override name = "CommittedAnswerError";
  constructor(cause: unknown) {
    super(`committed, but the answer could not be built: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  }
}

/**
 * The connection broke with COMMIT in flight and the database could not be asked what happened
 * before the resolve deadline: the unit may or may not have taken effect. Never retried.
 */
export class OutcomeUnknownError extends Error {
  override name = "OutcomeUnknownError";
  readonly code = "OUTCOME_UNKNOWN";
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** Shorthand constructors for outcomes. */
export function done<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function refused<T>(message: string): Outcome<T> {
  return { ok: false, message };
}

/** A unit of work: the statements of one operation, on one connection, in one transaction. */
export type Work<T> = (tx: Sql) => Promise<Outcome<T> | Deferred<T>>;

/** When a unit must be done by; every field optional (defaults from the database's settings). */
export interface TransactionOptions {
  /**
   * A `performance.now()` time by which the work and its COMMIT must have been answered; past
   * it the connection is destroyed (its session rolls back, unless COMMIT was already sent).
   */
  deadline?: number | undefined;
  /** By when a COMMIT whose answer was lost must be resolved (see the file comment). */
  resolveDeadline?: number | undefined;
  /** Called as every attempt starts (the first, and each rerun after a deadlock). */
  onAttempt?: (() => void) | undefined;
}

/** Counts of what the helper did, for the benchmark, metrics and tests. */
export const transactionStats = {
  committed: 0,
  rolledBack: 0,
  retried: 0,
  inUse: 0,
  /** COMMITs whose answer was lost, by how they were resolved. */
  inDoubtCommitted: 0,
  inDoubtAborted: 0,
  inDoubtUnknown: 0,
};

const RETRY_BACKOFF_MS_BASE = 2;

/** Runs `work` in a transaction, retrying on deadlock or serialization failure. */
export async function inTransaction<T>(
  db: Database,
  work: Work<T>,
  options: TransactionOptions = {},
): Promise<Outcome<T>> {
  const start = performance.now();
  const deadline = options.deadline ?? start + db.operationTimeoutMs - db.commitResolveMs;
  const resolveDeadline = options.resolveDeadline ?? deadline + db.commitResolveMs;
  for (let attempt = 0;; attempt++) {
    try {
      options.onAttempt?.();
      return await runOnce(db, work, deadline, resolveDeadline);
    } catch (error) {
      if (!isRetryable(error) || attempt >= db.retriesMax || performance.now() >= deadline) {
        throw error;
      }
      transactionStats.retried++;
      // Jittered exponential backoff, so that the transactions that collided do not collide again.
      const delay = RETRY_BACKOFF_MS_BASE * 2 ** attempt * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Where a unit's COMMIT stands, for the in-doubt rule. */
interface CommitState<T> {
  /** COMMIT was sent and its answer has not arrived. */
  inFlight: boolean;
  /** The deferred statements' outcome, if it arrived before the connection broke. */
  deferredOutcome: Outcome<T> | undefined;
}

async function runOnce<T>(
  db: Database,
  work: Work<T>,
  deadline: number,
  resolveDeadline: number,
): Promise<Outcome<T>> {
  const lease = await leaseUntil(db, deadline);
  transactionStats.inUse++;
  const tx = lease.sql;
  const state: CommitState<T> = { inFlight: false, deferredOutcome: undefined };
  let finished = false;
  let result: Outcome<T> | Deferred<T> | undefined;
  let identity: TransactionIdentity | undefined;
  try {
    // BEGIN and the identity read are sent without waiting: they travel with the work's first
    // statements. The identity is what lets an in-doubt COMMIT be resolved; reading it forces
    // an id on transactions that would write anyway.
    const opening = Promise.all([
      tx`BEGIN ISOLATION LEVEL READ COMMITTED`.execute(),
      tx`SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid`.execute(),
    ]);
    try {
      // A deferred outcome is observed as soon as it exists: if BEGIN failed, or the connection
      // was lost before the work's own promise was looked at, nobody else will wait for it.
      const working = work(tx).then((unit) => {
        if ("deferred" in unit) {
          unit.deferred.catch(() => {});
        }
        return unit;
      });
      result = await lease.race(working);
    } finally {
      // Surfaces a failed BEGIN, and never leaves its promise unobserved.
      const [, rows] = await lease.race(opening);
      identity = { xid: rows[0]!.xid as string, pid: Number(rows[0]!.pid) };
    }
    if ("deferred" in result) {
      const outcome = await commitDeferred(lease, result, state);
      finished = true;
      return outcome;
    }
    if (result.ok) {
      const commit = tx`COMMIT`.execute();
      state.inFlight = true;
      const answer = await lease.race(commit);
      state.inFlight = false;
      assertCommand(answer.command, "COMMIT");
      finished = true;
      transactionStats.committed++;
    }
    return result;
  } catch (error) {
    if (state.inFlight && (lease.isLost() || isUnavailable(error))) {
      // The connection broke with COMMIT in flight: find out, never guess.
      lease.destroy(lease.lostReason() ?? new ConnectionLostError("COMMIT went unanswered"));
      finished = true;
      return await settleInDoubt(db, result!, identity!, state, error, resolveDeadline);
    }
    if (identity === undefined && !lease.isLost()) {
      // BEGIN and the identity read never came back (the session never connected, or failed
      // before it answered): statements may still be queued on it, which must never run later
      // on a session the driver reconnects. Destroyed, not rolled back and reused. (A session
      // that answered them and then refused a statement, for lack of disk or being read-only,
      // is in step with us: it is rolled back and released below.)
      lease.destroy(error instanceof Error ? error : new ConnectionLostError(String(error)));
    }
    throw error;
  } finally {
    if (!finished && !lease.isLost()) {
      // A statement failed on a live session (a refusal, a constraint, a deadlock): ROLLBACK is
      // answered after every statement sent before it, so the session is clean when it returns.
      await rollback(lease);
    }
    transactionStats.inUse--;
    lease.release();
  }
}

/** Sends COMMIT behind the deferred statements and reconciles the two answers. */
async function commitDeferred<T>(
  lease: Lease,
  result: Deferred<T>,
  state: CommitState<T>,
): Promise<Outcome<T>> {
  const commit = lease.sql`COMMIT`.execute();
  state.inFlight = true;
  let outcome: Outcome<T>;
  try {
    outcome = await lease.race(result.deferred);
    state.deferredOutcome = outcome;
  } catch (error) {
    if (lease.isLost() || isUnavailable(error)) {
      // The statements' answers were lost, perhaps after they and the COMMIT ran: in doubt.
      throw error;
    }
    // Normally a statement failed, so the COMMIT is answered as a ROLLBACK and the error goes to
    // the caller (the ROLLBACK in `finally` then finds no transaction left, which is harmless).
    // But if the statements succeeded and only the code reading their results threw, the
    // COMMIT went through: the caller must not be told that the work was rolled back.
    const answer = await lease.race(commit).catch(() => undefined);
    state.inFlight = false;
    if (answer?.command === "COMMIT") {
      transactionStats.committed++;
      throw new CommittedAnswerError(error);
    }
    // ROLLBACK, or the connection broke: after a failed statement PostgreSQL cannot commit.
    throw error;
  }
  const answer = await lease.race(commit);
  state.inFlight = false;
  if (outcome.ok) {
    assertCommand(answer.command, "COMMIT");
    transactionStats.committed++;
  } else {
    if (answer.command !== "ROLLBACK") {
      throw new AssertionError(
        "a deferred refusal was committed: refusals must come from a failed statement",
      );
    }
    transactionStats.rolledBack++;
  }
  return outcome;
}

/** The answer of a unit whose COMMIT went unanswered, once PostgreSQL says what happened. */
async function settleInDoubt<T>(
  db: Database,
  result: Outcome<T> | Deferred<T>,
  identity: TransactionIdentity,
  state: CommitState<T>,
  cause: unknown,
  resolveDeadline: number,
): Promise<Outcome<T>> {
  const fate = await resolveCommit(db.pool, identity, resolveDeadline);
  if (fate === "unknown") {
    transactionStats.inDoubtUnknown++;
    throw new OutcomeUnknownError(
      `COMMIT of transaction ${identity.xid} went unanswered and the database could not be ` +
        "asked what happened in time",
      cause,
    );
  }
  if (fate === "aborted") {
    transactionStats.inDoubtAborted++;
    transactionStats.rolledBack++;
    // A deferred refusal rolled back as it should; anything else failed with the connection.
    if (state.deferredOutcome !== undefined && !state.deferredOutcome.ok) {
      return state.deferredOutcome;
    }
    throw cause;
  }
  transactionStats.inDoubtCommitted++;
  transactionStats.committed++;
  if (!("deferred" in result)) {
    return result;
  }
  if (state.deferredOutcome !== undefined) {
    return state.deferredOutcome;
  }
  if (result.recover === undefined) {
    throw new CommittedAnswerError(cause);
  }
  const recover = result.recover;
  try {
    return done(await withLease(db, (sql) => recover(sql, identity), resolveDeadline));
  } catch (error) {
    if (error instanceof OutcomeUnknownError) {
      throw error;
    }
    throw new CommittedAnswerError(error);
  }
}

/**
 * Runs `read` on a leased connection outside any transaction (one statement, its own snapshot),
 * bounded by `deadline` (a `performance.now()` time; by default the operation timeout from now)
 * for the wait and the statements alike.
 */
export async function withLease<T>(
  db: Database,
  read: (sql: Sql) => Promise<T>,
  deadline = performance.now() + db.operationTimeoutMs,
): Promise<T> {
  const lease = await leaseUntil(db, deadline);
  try {
    return await lease.race(read(lease.sql));
  } finally {
    lease.release();
  }
}

/** A lease that expires at `deadline`, waited for no longer than the acquire timeout allows. */
function leaseUntil(db: Database, deadline: number): Promise<Lease> {
  return db.pool.acquire(Math.min(deadline, performance.now() + db.acquireTimeoutMs), deadline);
}

function assertCommand(command: string, expected: string): void {
  if (command !== expected) {
    throw new AssertionError(`${expected} was answered with ${command}`);
  }
}

async function rollback(lease: Lease): Promise<void> {
  try {
    await lease.race(lease.sql`ROLLBACK`.execute());
    transactionStats.rolledBack++;
  } catch (error) {
    // Lost meanwhile (PostgreSQL rolls back a transaction whose connection closes), or a session
    // in a state nobody knows: either way it must not serve again.
    lease.destroy(error instanceof Error ? error : new ConnectionLostError(String(error)));
  }
}
