/**
 * Looks at the pool's sessions from the side, on a connection of its own: what PostgreSQL says a
 * session is doing, and ending one that must not go on.
 *
 * Why: a network that goes silent (a dropped route, a firewall that discards, a frozen proxy)
 * closes nothing. A statement's answer then never comes and nothing says so; TCP keepalive does
 * not help when something on the path still answers its probes, and the lease's deadline is
 * seconds away. Meanwhile the backend, which did answer, sits idle in its transaction holding its
 * book locks. Every session of the pool carries its own `application_name` (connection_pool.ts),
 * so the probe can ask: is the session we are waiting for still working on our statement
 * (`active`: running, or waiting for a lock), or is it waiting for us (`idle`/`idle in
 * transaction`), or gone? Waiting for us while we wait for it means the answer was lost.
 *
 * The probe's own connection may be silent too; each question is bounded, a question slow to be
 * answered is asked again beside it on new connections, and a connection that failed to answer is
 * closed.
 */
import type { Sql } from "./connection_pool.ts";

/**
 * What a session is doing, as PostgreSQL's activity view shows it. `idleMs`: how long it has been
 * waiting for its client, by the database's own clock (`state_change`), so no clocks are compared.
 */
export type SessionState =
  | { kind: "active" }
  | { kind: "waiting_for_client"; idleMs: number }
  | { kind: "gone" }
  | { kind: "unknown" };

/**
 * Whether a session waits for its client: idle (in its transaction or not) after answering, or
 * `active` but reading from the client (`ClientRead`): a pipeline of extended-protocol messages
 * cut off on the way leaves the backend mid-sequence, `active` since the sequence began, waiting
 * for the rest (seen in the fault suite: a batch "active" with no lock to wait for, held until its
 * 8 s deadline with its book, after a black hole swallowed the tail of its statements).
 */
export function waitsForClient(state: string | null, waitEvent: string | null): boolean {
  return state === "idle" || state === "idle in transaction" ||
    (state === "active" && waitEvent === "ClientRead");
}

/** A question unanswered this long is asked again beside it, on another connection. */
export const HEDGE_MS = 200;
/** Connections one question may try, the probe's own included. */
export const HEDGES_MAX = 5;

export class SessionProbe {
  readonly #open: () => Sql;
  readonly #timeoutMs: number;
  /** The connection questions go to. */
  #current: Sql | undefined;
  /** Connections opened beside the current one while it was slow to answer, until they answer. */
  readonly #hedges = new Set<Sql>();

  constructor(open: () => Sql, timeoutMs: number) {
    this.#open = open;
    this.#timeoutMs = timeoutMs;
  }

  /** The state of the session named `applicationName`, or `unknown` if it cannot be asked. */
  async state(applicationName: string): Promise<SessionState> {
    try {
      const rows = await this.#ask((sql) =>
        sql`SELECT state, wait_event,
                   (extract(epoch FROM clock_timestamp() - state_change) * 1000)::float8 AS idle_ms
            FROM pg_stat_activity WHERE application_name = ${applicationName}`.execute()
      );
      if (rows.length === 0) {
        return { kind: "gone" };
      }
      const row = rows[0]!;
      if (waitsForClient(row.state as string | null, row.wait_event as string | null)) {
        return { kind: "waiting_for_client", idleMs: Number(row.idle_ms) };
      }
      return { kind: "active" };
    } catch {
      return { kind: "unknown" };
    }
  }

  /**
   * Ends the session named `applicationName` (names are unique per connection, so this touches
   * no one else), so that its transaction rolls back and its locks go. True if none is left.
   */
  async terminate(applicationName: string): Promise<boolean> {
    try {
      await this.#ask((sql) =>
        sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = ${applicationName}`.execute()
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the probe's connections. */
  async end(): Promise<void> {
    const connections = [this.#current, ...this.#hedges];
    this.#current = undefined;
    this.#hedges.clear();
    await Promise.all(connections.map((sql) => sql?.end({ timeout: 0 }).catch(() => {})));
  }

  /**
   * Asks on the probe's connection; while no answer has come, asks again every
   * {@link HEDGE_MS} beside it, each time on a new connection (at most {@link HEDGES_MAX}), and
   * takes the first answer, all within the probe's timeout. Why: the probe's own connection may
   * have gone silent with the network, like the sessions it looks at, and stays silent after the
   * network heals; so does a connection opened while the network was still silent. Waiting out
   * the timeout on them put up to a second under the recovery from a black hole in the fault
   * suite; a new connection every 200 ms finds a healed network within that.
   */
  async #ask<T>(question: (sql: Sql) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    const asked = { answered: false };
    this.#current ??= this.#open();
    const attempts = [this.#attempt(this.#current, question, deadline, asked)];
    while (attempts.length < HEDGES_MAX && performance.now() + HEDGE_MS < deadline) {
      const early = await Promise.race([
        Promise.any(attempts).then(() => "answered" as const, () => "failed" as const),
        new Promise<"slow">((resolve) => setTimeout(() => resolve("slow"), HEDGE_MS)),
      ]);
      if (early === "answered") {
        break;
      }
      const hedge = this.#open();
      this.#hedges.add(hedge);
      attempts.push(this.#attempt(hedge, question, deadline, asked));
    }
    return await Promise.any(attempts).catch((error: AggregateError) => {
      throw error.errors.at(-1);
    });
  }

  /**
   * `question` on `sql`, bounded by `deadline`. The first connection to answer a question
   * becomes the probe's current one; a hedge that answers after it, or a connection that fails
   * or does not answer in time, is closed.
   */
  async #attempt<T>(
    sql: Sql,
    question: (sql: Sql) => Promise<T>,
    deadline: number,
    asked: { answered: boolean },
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = question(sql);
    answer.catch(() => {});
    try {
      const value = await Promise.race([
        answer,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            Math.max(0, deadline - performance.now()),
          );
        }),
      ]);
      if (this.#hedges.has(sql)) {
        this.#hedges.delete(sql);
        if (asked.answered) {
          sql.end({ timeout: 0 }).catch(() => {});
        } else {
          // A hedge answered where the current connection did not: it takes over.
          this.#forget(this.#current);
          this.#current = sql;
        }
      }
      asked.answered = true;
      return value;
    } catch (error) {
      this.#forget(sql);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #forget(sql: Sql | undefined): void {
    if (sql === undefined) {
      return;
    }
    if (this.#current === sql) {
      this.#current = undefined;
    }
    this.#hedges.delete(sql);
    sql.end({ timeout: 0 }).catch(() => {});
  }
}
