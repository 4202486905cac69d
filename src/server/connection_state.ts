/**
 * One connection's state, and the one place that decides its deadlines. Pure: no I/O, no
 * timers; the connection tells it what happens (bytes awaited and received, a frame begun or
 * completed, a request started and ended, an answer being written, shutdown) with the time, and
 * asks {@link ConnectionState.check} what to do now.
 *
 * The deadlines:
 * - an answer not taken by the client within `frameTimeoutMs` closes the connection;
 * - a frame must be complete within `frameTimeoutMs` of time spent waiting for the client: a
 *   client trickling a byte at a time cannot hold the connection, but while a request runs,
 *   backpressure stops the reader and leaves the next frame half read through no fault of the
 *   client, and that time does not count;
 * - a client that has sent nothing since connecting gets `frameTimeoutMs`;
 * - a connection with nothing in flight is closed after `idleTimeoutMs`;
 * - on shutdown, input ends as soon as no frame is half read and no request runs.
 */

/** The limits the deadlines come from. */
export interface ConnectionDeadlines {
  frameTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * `streaming`: requests are read; `draining`: input has ended (the pipeline finishes what it
 * holds, arriving bytes are discarded); `stopped`: nothing more is read.
 */
export type ReadPhase = "streaming" | "draining" | "stopped";

/** What {@link ConnectionState.check} asks the connection to do. */
export type Verdict =
  | { action: "none" }
  /** Take no more requests; answer those received, then close. */
  | { action: "end-input"; reason: string }
  /** Close the socket now: the client does not read its answers. */
  | { action: "force-close" };

const NONE: Verdict = { action: "none" };

/** The state of one connection, told what happens, deciding every deadline. */
export class ConnectionState {
  readonly #limits: ConnectionDeadlines;
  #phase: ReadPhase = "streaming";
  #closed = false;
  #endReason: string | undefined;
  #receivedAny = false;
  #lastActivity: number;
  #writingSince: number | undefined;
  #requestsRunning = 0;
  #shuttingDown = false;
  /** When the reader started waiting for the client's bytes, while it does. */
  #awaitingClientSince: number | undefined;
  /** Time spent waiting for the client, over finished waits. */
  #clientWaitTotalMs = 0;
  /**
   * The incomplete frame, if any: known by how many frames were complete before it, and the
   * client-wait total when it began (waits before it do not count against it).
   */
  #frame: { waitBaseMs: number; framesBefore: number } | undefined;

  constructor(limits: ConnectionDeadlines, now: number) {
    this.#limits = limits;
    this.#lastActivity = now;
  }

  /** Where reading stands. */
  get phase(): ReadPhase {
    return this.#phase;
  }

  /** Why the input ended ("connection closed", "idle", ...), once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** The reader starts waiting for the client's bytes. */
  awaitingClient(now: number): void {
    this.#awaitingClientSince = now;
  }

  /** The wait for the client's bytes is over; `bytes` arrived (0 at the end of the stream). */
  clientAnswered(now: number, bytes: number): void {
    if (this.#awaitingClientSince !== undefined) {
      this.#clientWaitTotalMs += Math.max(0, now - this.#awaitingClientSince);
      this.#awaitingClientSince = undefined;
    }
    if (bytes > 0) {
      this.#lastActivity = now;
      if (this.#phase === "streaming") {
        this.#receivedAny = true;
      }
    }
  }

  /**
   * The decoder took a chunk: `midFrame` says whether a frame is now half read, and
   * `framesDecoded` how many it has completed in all (a new count is a new frame).
   */
  decoded(midFrame: boolean, framesDecoded: number): void {
    if (!midFrame) {
      this.#frame = undefined;
    } else if (this.#frame === undefined || this.#frame.framesBefore !== framesDecoded) {
      // A wait in progress (the reader reading ahead) began before this frame: it counts.
      this.#frame = { waitBaseMs: this.#clientWaitTotalMs, framesBefore: framesDecoded };
    }
  }

  /** A request began executing. */
  requestStarted(): void {
    this.#requestsRunning++;
  }

  /** A request finished executing (answered or failed). */
  requestEnded(): void {
    this.#requestsRunning = Math.max(0, this.#requestsRunning - 1);
  }

  /** Writing an answer to the socket began. */
  writeStarted(now: number): void {
    this.#writingSince = now;
  }

  /** The answer is written (or writing stopped). */
  writeEnded(now: number, written: boolean): void {
    this.#writingSince = undefined;
    if (written) {
      this.#lastActivity = now;
    }
  }

  /** The server is shutting down: end input at the next moment nothing is in flight. */
  shutdown(): void {
    this.#shuttingDown = true;
  }

  /** Input ends for `reason`; returns false if it had already ended (the first reason stays). */
  endInput(reason: string): boolean {
    if (this.#phase !== "streaming") {
      return false;
    }
    this.#phase = "draining";
    this.#endReason = reason;
    return true;
  }

  /** Input ended without a reason of its own (the pipeline stopped taking bytes). */
  drain(): void {
    if (this.#phase === "streaming") {
      this.#phase = "draining";
    }
  }

  /** Nothing more is read from the socket. */
  stopReading(): void {
    this.#phase = "stopped";
  }

  /** The socket is being closed; returns false if it already was. Nothing more is read. */
  close(): boolean {
    if (this.#closed) {
      return false;
    }
    this.#closed = true;
    return true;
  }

  /** Which deadline, if any, has passed at `now`. */
  check(now: number): Verdict {
    if (this.#closed) {
      return NONE;
    }
    const { frameTimeoutMs, idleTimeoutMs } = this.#limits;
    if (this.#writingSince !== undefined) {
      // The client does not read its answers; nothing more can be done for it.
      return now - this.#writingSince > frameTimeoutMs ? { action: "force-close" } : NONE;
    }
    if (this.#phase !== "streaming") {
      return NONE;
    }
    if (this.#frame !== undefined) {
      if (this.#clientWaitedMs(now) - this.#frame.waitBaseMs > frameTimeoutMs) {
        return {
          action: "end-input",
          reason: `timed out after ${frameTimeoutMs} ms without a complete frame`,
        };
      }
      return NONE;
    }
    if (this.#requestsRunning > 0) {
      return NONE;
    }
    const quiet = now - this.#lastActivity;
    if (this.#shuttingDown) {
      return { action: "end-input", reason: "server shutting down" };
    }
    if (!this.#receivedAny && quiet > frameTimeoutMs) {
      return { action: "end-input", reason: "sent nothing" };
    }
    if (quiet > idleTimeoutMs) {
      return { action: "end-input", reason: "idle" };
    }
    return NONE;
  }

  /** Total time spent waiting for the client's bytes, including a wait in progress. */
  #clientWaitedMs(now: number): number {
    const since = this.#awaitingClientSince;
    return this.#clientWaitTotalMs + (since === undefined ? 0 : Math.max(0, now - since));
  }
}
