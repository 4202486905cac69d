/**
 * The only place that writes BEGIN, COMMIT and ROLLBACK.
 *
 * A unit of work runs on one reserved pool connection inside BEGIN ... COMMIT. The work returns
 * an {@link Outcome}: `ok` commits, a refusal (insufficient funds, unknown order) rolls back,
 * and so does any exception. ROLLBACK is issued in `finally`, so no path leaves a transaction
 * open or a row locked. Deadlocks and serialization failures (40P01, 40001) run the whole unit
 * again, at most `retriesMax` times; every other error goes to the caller.
 *
 * To save a round trip while locks are held, a unit may instead return a {@link Deferred}: its
 * last statements are already sent, and COMMIT is sent right behind them without waiting. If
 * one of those statements fails (for example `exchange_require` refusing), PostgreSQL answers
 * the COMMIT with ROLLBACK; the helper checks that a deferred refusal really was rolled back.
 * Deferred statements must be sent with `.execute()` before the work returns: postgres.js
 * otherwise sends a query on the next tick, which would put it behind the COMMIT.
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
import { type Database, reserveConnection, type ReservedSql } from "./database.ts";
import { isRetryable, isUnavailable } from "./errors.ts";

/** What a unit of work decided: commit and answer `value`, or roll back and refuse. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The unit's final statements are in flight; `outcome` settles when they have run. It may be a
 * refusal only if one of those statements failed (so that the pipelined COMMIT rolls back).
 */
export interface Deferred<T> {
  deferred: Promise<Outcome<T>>;
}

/**
 * The unit's statements committed, but the code that turns their results into an answer threw
 * (a bug). The work took effect: the caller must say so, not that it was rolled back.
 */
export class CommittedAnswerError extends Error {
  override name = "CommittedAnswerError";
  constructor(cause: unknown) {
    super(`committed, but the answer could not be built: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
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
export type Work<T> = (tx: ReservedSql) => Promise<Outcome<T> | Deferred<T>>;

/** Counts of what the helper did, for the benchmark and tests. */
export const transactionStats = { committed: 0, rolledBack: 0, retried: 0, inUse: 0 };

const RETRY_BACKOFF_MS_BASE = 2;

/** Runs `work` in a transaction, retrying on deadlock or serialization failure. */
export async function inTransaction<T>(db: Database, work: Work<T>): Promise<Outcome<T>> {
  for (let attempt = 0;; attempt++) {
    try {
      return await runOnce(db, work);
    } catch (error) {
      if (!isRetryable(error) || attempt >= db.retriesMax) {
        throw error;
      }
      transactionStats.retried++;
      // Jittered exponential backoff, so that the transactions that collided do not collide again.
      const delay = RETRY_BACKOFF_MS_BASE * 2 ** attempt * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function runOnce<T>(db: Database, work: Work<T>): Promise<Outcome<T>> {
  const tx = await reserveConnection(db);
  transactionStats.inUse++;
  let finished = false;
  let connectionLost = false;
  try {
    // BEGIN is sent without waiting for its reply: it travels with the work's first statements.
    const begin = tx`BEGIN ISOLATION LEVEL READ COMMITTED`.execute();
    let result: Outcome<T> | Deferred<T>;
    try {
      result = await work(tx);
    } finally {
      // Surfaces a failed BEGIN, and never leaves its promise unobserved.
      await begin;
    }
    if ("deferred" in result) {
      const outcome = await commitDeferred(tx, result);
      finished = true;
      return outcome;
    }
    if (result.ok) {
      await tx`COMMIT`;
      finished = true;
      transactionStats.committed++;
    }
    return result;
  } catch (error) {
    if (isUnavailable(error)) {
      // The connection is gone, and PostgreSQL rolls back a transaction whose connection
      // closes. Nothing more may be sent on it, and it must not be released: postgres.js 3.4.7
      // then hands the dead connection to the next query, whose write goes to a null socket
      // from a timer, an uncaught TypeError that takes the whole server down (seen when
      // pg_terminate_backend hit a batch; upstream porsager/postgres#1199 and #1208, open).
      // Left unreleased, the pool's own close handling moves it to its closed queue, from where
      // it reconnects for the next query.
      connectionLost = true;
    }
    throw error;
  } finally {
    if (!finished && !connectionLost) {
      await rollback(tx);
    }
    transactionStats.inUse--;
    if (!connectionLost) {
      tx.release();
    }
  }
}

/** Sends COMMIT behind the deferred statements and reconciles the two answers. */
async function commitDeferred<T>(tx: ReservedSql, result: Deferred<T>): Promise<Outcome<T>> {
  const commit = tx`COMMIT`.execute();
  let outcome: Outcome<T>;
  try {
    outcome = await result.deferred;
  } catch (error) {
    // Normally a statement failed, so the COMMIT is answered as a ROLLBACK and the error goes to
    // the caller (the ROLLBACK in `finally` then finds no transaction left, which is harmless).
    // But if the statements succeeded and only the code reading their results threw, the
    // COMMIT went through: the caller must not be told that the work was rolled back.
    if (isUnavailable(error)) {
      // The connection is gone: no COMMIT can have run after the failed statement. Do not wait
      // for the COMMIT's reply either: postgres.js 3.4.7 leaves queries that were pipelined
      // behind the failed one unsettled when the socket closes with an error.
      commit.catch(() => {});
      throw error;
    }
    const answer = await commit.catch(() => undefined);
    if (answer?.command === "COMMIT") {
      transactionStats.committed++;
      throw new CommittedAnswerError(error);
    }
    throw error;
  }
  const answer = await commit;
  if (outcome.ok) {
    if (answer.command !== "COMMIT") {
      throw new AssertionError(`COMMIT was answered with ${answer.command}`);
    }
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

async function rollback(tx: ReservedSql): Promise<void> {
  try {
    await tx`ROLLBACK`;
    transactionStats.rolledBack++;
  } catch {
    // The connection is gone; PostgreSQL rolls back a transaction whose connection closes.
  }
}
