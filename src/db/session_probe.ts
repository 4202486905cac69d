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
 * answered is asked again beside it on another connection, and a connection that failed to
 * answer is closed.
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

export class SessionProbe {
  readonly #open: () => Sql;
  readonly #timeoutMs: number;
  /** The connection questions go to. */
  #current: Sql | undefined;
  /** A second connection, opened when the current one was slow to answer. */
  #spare: Sql | undefined;

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
    const connections = [this.#current, this.#spare];
    this.#current = undefined;
    this.#spare = undefined;
    await Promise.all(connections.map((sql) => sql?.end({ timeout: 0 }).catch(() => {})));
  }

  /**
   * Asks on the probe's connection; if no answer has come within {@link HEDGE_MS} (or it
   * failed), asks again beside it on another connection, and takes the first answer, all within
   * the probe's timeout. Why: the probe's own connection may have gone silent with the network,
   * like the sessions it looks at, and stays silent after the network heals; a connection opened
   * while the network was still silent hangs too. Waiting out the timeout on it put a second
   * under the recovery from a black hole in the fault suite.
   */
  async #ask<T>(question: (sql: Sql) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    this.#current ??= this.#open();
    const first = this.#attempt(this.#current, question, deadline);
    const early = await Promise.race([
      first.then(() => "answered" as const, () => "failed" as const),
      new Promise<"slow">((resolve) => setTimeout(() => resolve("slow"), HEDGE_MS)),
    ]);
    if (early === "answered") {
      return await first;
    }
    this.#spare ??= this.#open();
    const second = this.#attempt(this.#spare, question, deadline);
    return await Promise.any([first, second]).catch((error: AggregateError) => {
      throw error.errors.at(-1);
    });
  }

  /**
   * `question` on `sql`, bounded by `deadline`. A connection that answers becomes the probe's
   * current one; a connection that fails or does not answer in time is closed and forgotten.
   */
  async #attempt<T>(sql: Sql, question: (sql: Sql) => Promise<T>, deadline: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const asked = question(sql);
    asked.catch(() => {});
    try {
      const answer = await Promise.race([
        asked,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            Math.max(0, deadline - performance.now()),
          );
        }),
      ]);
      if (this.#spare === sql) {
        // The spare answered where the current one did not: it takes over.
        this.#spare = undefined;
        this.#forget(this.#current);
        this.#current = sql;
      }
      return answer;
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
    if (this.#spare === sql) {
      this.#spare = undefined;
    }
    sql.end({ timeout: 0 }).catch(() => {});
  }
}
