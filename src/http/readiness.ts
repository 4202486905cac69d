/**
 * `/readyz`: does the database answer? One probe at a time (concurrent callers share it), each
 * bounded by the connect timeout, so an outage shows within that time and recovery shows on the
 * next probe after the database is back (postgres.js reconnects by itself).
 */
import type { Sql } from "../db/database.ts";

/** The database answered, or why it did not. */
export type Readiness = { ready: true } | { ready: false; reason: string };

/** Probes the database with `SELECT 1`. */
export class ReadinessProbe {
  readonly #sql: Sql;
  readonly #timeoutMs: number;
  #inFlight: Promise<Readiness> | undefined;

  constructor(sql: Sql, timeoutMs: number) {
    this.#sql = sql;
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves within the timeout; never throws. */
  check(): Promise<Readiness> {
    this.#inFlight ??= this.#probe().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #probe(): Promise<Readiness> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<Readiness>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ready: false,
            reason: `database did not answer within ${this.#timeoutMs} ms`,
          }),
        this.#timeoutMs,
      );
    });
    const query = this.#sql`SELECT 1`.then(
      (): Readiness => ({ ready: true }),
      (error): Readiness => ({ ready: false, reason: `database unreachable: ${describe(error)}` }),
    );
    try {
      return await Promise.race([query, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A one-line description of a database error, without a stack. */
export function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  return e?.code !== undefined && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
