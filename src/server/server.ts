/**
 * The TCP listener: accepts connections up to a bound, runs one {@link Connection} each,
 * sweeps their timeouts, and shuts down gracefully.
 */
import type { Limits } from "../config.ts";
import { Connection } from "./connection.ts";
import type { ExchangeService } from "./exchange_service.ts";
import { Logger } from "../observability/logger.ts";
import { metrics } from "../observability/metrics.ts";

/** Shortest interval between timeout sweeps. */
const SWEEP_INTERVAL_MS_MIN = 10;
/** Longest interval between timeout sweeps. */
const SWEEP_INTERVAL_MS_MAX = 1_000;
/**
 * After the grace, how long abandoned connections may take to unwind (their remaining
 * operations fail at once once the pool is closed) before shutdown returns regardless.
 */
const ABANDON_WAIT_MS = 2_000;
/** Pause after a failed accept (for example EMFILE), so that the loop does not spin. */
const ACCEPT_RETRY_DELAY_MS = 100;

export interface ServerOptions {
  host: string;
  port: number;
  /** Share the port with other processes (SO_REUSEPORT), for `--workers`. */
  reusePort: boolean;
  limits: Limits;
  service: ExchangeService;
  /** Plain log lines, when no `logger` is given (tests). */
  log: (line: string) => void;
  /** The process's logger (format, slow threshold, access log). */
  logger?: Logger;
}

export class ExchangeServer {
  readonly #options: ServerOptions;
  readonly #listener: Deno.TcpListener;
  readonly #connections = new Set<Connection>();
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #logger: Logger;
  #connectionsStarted = 0;
  #slotFreed: (() => void) | undefined;
  #closing = false;
  #accepting: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#logger = options.logger ??
      new Logger({ format: "text", slowMs: 1_000, accessLog: false }, options.log);
    this.#listener = Deno.listen({
      hostname: options.host,
      port: options.port,
      transport: "tcp",
      ...(options.reusePort ? { reusePort: true } : {}),
    });
    const { frameTimeoutMs, idleTimeoutMs } = options.limits;
    const interval = Math.min(
      SWEEP_INTERVAL_MS_MAX,
      Math.max(SWEEP_INTERVAL_MS_MIN, Math.floor(Math.min(frameTimeoutMs, idleTimeoutMs) / 4)),
    );
    this.#sweep = setInterval(() => this.#checkTimeouts(), interval);
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Connections being served right now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Starts accepting; resolves once the listener is closed. */
  serve(): Promise<void> {
    this.#accepting ??= this.#acceptLoop();
    return this.#accepting;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      if (this.#connections.size >= this.#options.limits.connectionsMax) {
        // Backpressure: further clients wait in the kernel's accept queue until a slot frees.
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) {
          return;
        }
        this.#logger.event("accept_failed", `accept failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_DELAY_MS));
        continue;
      }
      this.#start(conn);
    }
  }

  #start(conn: Deno.Conn): void {
    const id = String(++this.#connectionsStarted);
    const connection = new Connection(conn, {
      limits: this.#options.limits,
      service: this.#options.service,
      logger: this.#logger,
      id,
    });
    this.#connections.add(connection);
    metrics.connectionOpened();
    const access = this.#logger.config.accessLog;
    if (access) {
      const peer = conn.remoteAddr as Deno.NetAddr;
      this.#logger.event("connection_open", "connection opened", {
        conn: id,
        peer: `${peer.hostname}:${peer.port}`,
      });
    }
    if (this.#closing) {
      connection.shutdown();
    }
    connection.serve().finally(() => {
      this.#connections.delete(connection);
      metrics.connectionClosed();
      if (access) {
        this.#logger.event("connection_close", "connection closed", {
          conn: id,
          reason: connection.endReason,
        });
      }
      const freed = this.#slotFreed;
      this.#slotFreed = undefined;
      freed?.();
    });
  }

  #checkTimeouts(): void {
    const now = performance.now();
    for (const connection of this.#connections) {
      connection.checkTimeouts(now);
    }
  }

  /**
   * Stops accepting, lets every connection finish the requests it has received (up to
   * `graceMs`), then closes whatever is left and calls `abandon` (which ends the database work
   * still running, so that its operations fail at once). Resolves when no connection remains,
   * or at the latest {@link ABANDON_WAIT_MS} after the grace.
   */
  async shutdown(graceMs: number, abandon?: () => Promise<void>): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      const freed = this.#slotFreed;
      this.#slotFreed = undefined;
      freed?.();
    }
    for (const connection of this.#connections) {
      connection.shutdown();
    }
    const deadline = performance.now() + graceMs;
    while (this.#connections.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.#connections.size > 0) {
      this.#options.log(
        `shutdown grace of ${graceMs} ms over: abandoning ${this.#connections.size} connection(s)`,
      );
      for (const connection of this.#connections) {
        connection.forceClose();
      }
      await abandon?.().catch(() => {});
    }
    const abandonDeadline = performance.now() + ABANDON_WAIT_MS;
    while (this.#connections.size > 0 && performance.now() < abandonDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    clearInterval(this.#sweep);
    await this.#accepting;
  }
}
