/**
 * The server's log: one line per event, as text or as JSON (`--log-format`), each carrying the
 * id of the connection it concerns.
 *
 * The connection id travels in an AsyncLocalStorage rather than through every call: the
 * exchange service and the database layer log with a plain `(line) => void` and still get the
 * id of the connection whose request they run (measured: about 0.3 us per `run`).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { LogConfig } from "../config.ts";

/** Extra fields of an event; `undefined` values are left out. */
export type LogFields = Record<string, string | number | boolean | undefined>;

const connectionIds = new AsyncLocalStorage<string>();

/** Runs `work` with `connectionId` as the connection of every line it logs. */
export function withConnection<T>(connectionId: string, work: () => T): T {
  return connectionIds.run(connectionId, work);
}

/** The connection of the code running now, if any. */
export function currentConnection(): string | undefined {
  return connectionIds.getStore();
}

/** Writes log lines in the configured format. */
export class Logger {
  readonly config: Readonly<LogConfig>;
  readonly #write: (line: string) => void;
  readonly #pid: number;

  constructor(config: LogConfig, write: (line: string) => void = console.error) {
    this.config = config;
    this.#write = write;
    this.#pid = Deno.pid;
  }

  /** One event: a short name (for JSON), a sentence for people, and fields. */
  event(event: string, message: string, fields: LogFields = {}): void {
    const conn = fields.conn ?? currentConnection();
    if (this.config.format === "json") {
      const record: Record<string, unknown> = {
        time: new Date().toISOString(),
        pid: this.#pid,
        event,
        ...(conn === undefined ? {} : { conn }),
        msg: message,
      };
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined && key !== "conn") {
          record[key] = value;
        }
      }
      this.#write(JSON.stringify(record));
      return;
    }
    const parts = [`[exchange ${this.#pid}]`];
    if (conn !== undefined) {
      parts.push(`conn=${conn}`);
    }
    parts.push(message);
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && key !== "conn") {
        parts.push(
          `${key}=${typeof value === "string" && /\s/.test(value) ? JSON.stringify(value) : value}`,
        );
      }
    }
    this.#write(parts.join(" "));
  }

  /** A plain message, for code that logs with `(line: string) => void`. */
  readonly line = (message: string): void => this.event("message", message);
}
