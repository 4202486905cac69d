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
 * The probe's own connection may be silent too; each question is bounded, and a connection that
 * failed to answer is replaced at once (the question is asked again on a new one).
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

export class SessionProbe {
  readonly #open: () => Sql;
  readonly #timeoutMs: number;
  #sql: Sql | undefined;

  constructor(open: () => Sql, timeoutMs: number) {
    this.#open = open;
    this.#timeoutMs = timeoutMs;
  }

  /** The state of the session named `applicationName`, or `unknown` if it cannot be asked. */
  async state(applicationName: string): Promise<SessionState> {
    try {
      const rows = await this.#ask((sql) =>
        sql`SELECT state,
                   (extract(epoch FROM clock_timestamp() - state_change) * 1000)::float8 AS idle_ms
            FROM pg_stat_activity WHERE application_name = ${applicationName}`.execute()
      );
      if (rows.length === 0) {
        return { kind: "gone" };
      }
      const state = rows[0]!.state as string | null;
      if (state === "idle" || state === "idle in transaction") {
        return { kind: "waiting_for_client", idleMs: Number(rows[0]!.idle_ms) };
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

  /** Closes the probe's connection. */
  async end(): Promise<void> {
    const sql = this.#sql;
    this.#sql = undefined;
    await sql?.end({ timeout: 0 }).catch(() => {});
  }

  /**
   * Asks on the probe's connection. If a connection opened earlier fails to answer (it may have
   * gone silent with the network, like the sessions it looks at), the question is asked once
   * more on a new one at once: after a network heals, the old connection stays silent, and
   * waiting for the next look would add a whole check interval to every recovery.
   */
  async #ask<T>(question: (sql: Sql) => Promise<T>): Promise<T> {
    const reused = this.#sql !== undefined;
    try {
      return await this.#askOnce(question);
    } catch (error) {
      if (!reused) {
        throw error;
      }
      return await this.#askOnce(question);
    }
  }

  async #askOnce<T>(question: (sql: Sql) => Promise<T>): Promise<T> {
    this.#sql ??= this.#open();
    const sql = this.#sql;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const asked = question(sql);
    asked.catch(() => {});
    try {
      return await Promise.race([
        asked,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      // A connection that did not answer is not asked again: the next question opens another.
      if (this.#sql === sql) {
        this.#sql = undefined;
        sql.end({ timeout: 0 }).catch(() => {});
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
