/**
 * The only place that writes BEGIN, COMMIT and ROLLBACK.
 *
 * A unit of work runs on one reserved pool connection inside BEGIN ... COMMIT. The work returns
 * an {@link Outcome}: `ok` commits, a refusal (insufficient funds, unknown order) rolls back,
 * and so does any exception. ROLLBACK is issued in `finally`, so no path leaves a transaction
 * open or a row locked. Deadlocks and serialization failures (40P01, 40001) run the whole unit
 * again, at most `retriesMax` times; every other error goes to the caller.
 *
 * Global lock order, which every unit of work follows so that no two can deadlock:
 *   1. the symbol row (`symbols ... FOR UPDATE`): the lock on that symbol's order book;
 *   2. order rows of that symbol (`orders ... FOR UPDATE`), in book order;
 *   3. account rows (`accounts ... FOR UPDATE`), all in one statement, ascending by id
 *      in the "C" collation;
 *   4. position rows (`positions`), ascending by account id.
 * A unit may skip levels but never goes back to a lower-numbered one.
 */
import type { Database, ReservedSql } from "./database.ts";
import { isRetryable } from "./errors.ts";

/** What a unit of work decided: commit and answer `value`, or roll back and refuse. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** Shorthand constructors for outcomes. */
export function done<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function refused<T>(message: string): Outcome<T> {
  return { ok: false, message };
}

/** A unit of work: the statements of one operation, on one connection, in one transaction. */
export type Work<T> = (tx: ReservedSql) => Promise<Outcome<T>>;

/** Counts of what the helper did, for the benchmark and tests. */
export const transactionStats = { committed: 0, rolledBack: 0, retried: 0 };

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
  const tx = await db.sql.reserve();
  let committed = false;
  try {
    // BEGIN is sent without waiting for its reply: it travels with the work's first statements.
    const begin = tx`BEGIN`.execute();
    let outcome: Outcome<T>;
    try {
      outcome = await work(tx);
    } finally {
      // Surfaces a failed BEGIN, and never leaves its promise unobserved.
      await begin;
    }
    if (outcome.ok) {
      await tx`COMMIT`;
      committed = true;
    }
    return outcome;
  } finally {
    if (!committed) {
      await rollback(tx);
    }
    tx.release();
  }
}

async function rollback(tx: ReservedSql): Promise<void> {
  try {
    await tx`ROLLBACK`;
    transactionStats.rolledBack++;
  } catch {
    // The connection is gone; PostgreSQL rolls back a transaction whose connection closes.
  }
}
