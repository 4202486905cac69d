/**
 * One client connection: socket bytes -> frames -> requests -> answers -> socket bytes.
 *
 *   socket reader -> LengthPrefixDecoderStream -> XmlRequestStream -> RequestHandlerStream
 *                 -> ResponseEncoderStream -> socket writer
 *
 * Backpressure runs end to end: the reader stops reading while the decoder's queue is full,
 * which fills the kernel's receive buffer and closes the client's TCP window.
 *
 * The socket reader writes straight into the decoder's writable side rather than through a
 * ReadableStream of its own piped into it: one pipe less per connection (measured: each stage
 * of a web-stream pipeline costs about 18 us to set up and tear down, which text framing pays
 * on every request).
 */
import type { Limits } from "../config.ts";
import { LengthPrefixDecoderStream } from "../framing/length_prefix_decoder_stream.ts";
import { ResponseEncoderStream } from "../framing/response_encoder_stream.ts";
import { XmlRequestStream } from "../xml/xml_request_stream.ts";
import type { ExchangeService } from "./exchange_service.ts";
import type { Logger } from "../observability/logger.ts";
import { ConnectionState } from "./connection_state.ts";
import { RequestHandlerStream } from "./request_handler_stream.ts";

/**
 * Bytes read from the socket at once: each connection keeps one such buffer. Most requests are
 * well under 1 kB. Server RSS with 1000 idle binary connections: 168 MB with 16 kB, 141 and 161 MB
 * with 8 kB (two runs), 155 MB with 4 kB: below 8 kB the saving drowns in the noise.
 */
const READ_CHUNK_BYTES = 8 * 1024;
/** After answering and before closing, unread input is discarded for at most this long ... */
const LINGER_MS = 1_000;
/** ... or this many bytes, so that closing does not reset the connection before the client
 * has read its answer (closing a socket with unread input sends RST, which can discard it). */
const LINGER_BYTES_MAX = 4 * 1024 * 1024;

export interface ConnectionOptions {
  limits: Limits;
  service: ExchangeService;
  logger: Logger;
  /** This connection's id in log lines. */
  id: string;
}

/** One client connection, served until it closes; its deadlines are decided by its state. */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #options: ConnectionOptions;
  readonly #state: ConnectionState;
  readonly #decoder: LengthPrefixDecoderStream;
  readonly #handler: RequestHandlerStream;
  /** The decoder's input; only the read loop writes to it. */
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  #wakeReader: (() => void) | undefined;

  constructor(conn: Deno.Conn, options: ConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    const state = new ConnectionState(options.limits, performance.now());
    this.#state = state;
    this.#decoder = new LengthPrefixDecoderStream(options.limits, {
      decoded: (midFrame, framesDecoded) => state.decoded(midFrame, framesDecoded),
      endReason: () => state.endReason,
    });
    this.#handler = new RequestHandlerStream(options.service, {
      logger: options.logger,
      connectionId: options.id,
      onRequestStart: () => state.requestStarted(),
      onRequestEnd: () => state.requestEnded(),
      requestsMax: options.limits.connectionRequestsMax,
    });
    this.#input = this.#decoder.writable.getWriter();
    // The pipeline was canceled from downstream (the answer loop stopped): stop feeding it.
    this.#input.closed.catch(() => this.#drain());
    if ("setNoDelay" in conn) {
      // Answers are small and latency matters; do not let Nagle's algorithm hold them back.
      (conn as Deno.TcpConn).setNoDelay(true);
    }
  }

  /** Serves the connection until it is closed; never throws. */
  async serve(): Promise<void> {
    const reading = this.#readLoop();
    const answers = this.#decoder.readable
      .pipeThrough(new XmlRequestStream(this.#options.limits))
      .pipeThrough(this.#handler)
      .pipeThrough(new ResponseEncoderStream());
    try {
      for await (const answer of answers) {
        this.#state.writeStarted(performance.now());
        await writeAll(this.#conn, answer.bytes);
        this.#state.writeEnded(performance.now(), true);
        if (answer.closeAfter) {
          break;
        }
      }
    } catch {
      // The client went away mid-answer; its operations have finished in the database anyway.
    } finally {
      this.#state.writeEnded(performance.now(), false);
      await this.#close(reading);
    }
  }

  /** Why the input ended ("connection closed", "idle", ...), once it has. */
  get endReason(): string | undefined {
    return this.#state.endReason;
  }

  /** Called periodically by the server: acts on the deadline the state says has passed. */
  checkTimeouts(now: number): void {
    const verdict = this.#state.check(now);
    if (verdict.action === "force-close") {
      this.#forceClose();
    } else if (verdict.action === "end-input") {
      this.#finishInput(verdict.reason);
    }
  }

  /** Stops taking new requests; requests already received are answered, then it closes. */
  shutdown(): void {
    this.#state.shutdown();
    this.checkTimeouts(performance.now());
  }

  /** Closes the socket at once, abandoning any answer not yet written. */
  forceClose(): void {
    this.#forceClose();
  }

  #wake(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = undefined;
    wake?.();
  }

  /** Ends the request input: the pipeline finishes what it holds, then the connection closes. */
  #finishInput(reason: string): void {
    if (!this.#state.endInput(reason)) {
      return;
    }
    this.#wake();
    // Rejects only if the pipeline was already canceled, which needs no further handling.
    this.#input.close().catch(() => {});
  }

  /** The pipeline takes no more input: the reader only discards what arrives. */
  #drain(): void {
    this.#state.drain();
    this.#wake();
  }

  /**
   * The only reader of the socket. While streaming it feeds the pipeline, respecting its
   * backpressure; once input has ended it discards what arrives (bounded) until the close.
   */
  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_CHUNK_BYTES);
    let discarded = 0;
    for (;;) {
      if (this.#state.phase === "streaming") {
        const room = this.#input.desiredSize;
        if (room === null) {
          // The pipeline errored or was canceled: nothing more will be taken from us.
          this.#drain();
          continue;
        }
        if (room <= 0) {
          // Wait for the decoder to take more, or for the input to be ended by a timeout.
          await Promise.race([
            this.#input.ready.catch(() => {}),
            new Promise<void>((resolve) => {
              this.#wakeReader = resolve;
            }),
          ]);
          continue;
        }
      }
      if (this.#state.phase === "stopped") {
        return;
      }
      let count: number | null;
      this.#state.awaitingClient(performance.now());
      try {
        count = await this.#conn.read(buffer);
      } catch {
        count = null;
      }
      this.#state.clientAnswered(performance.now(), count ?? 0);
      if (count === null) {
        this.#finishInput("connection closed");
        this.#state.stopReading();
        return;
      }
      if (this.#state.phase === "streaming") {
        // Settles once the decoder has taken the chunk; failures show in `#input.closed`.
        this.#input.write(buffer.slice(0, count)).catch(() => {});
      } else {
        discarded += count;
        if (discarded > LINGER_BYTES_MAX) {
          this.#state.stopReading();
          return;
        }
      }
    }
  }

  async #close(reading: Promise<void>): Promise<void> {
    this.#drain();
    try {
      // Send FIN after the answer, then let the client's remaining bytes drain briefly.
      await (this.#conn as Deno.TcpConn).closeWrite();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        reading,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, LINGER_MS);
        }),
      ]);
      clearTimeout(timer);
    } catch {
      // The socket is already gone.
    }
    this.#forceClose();
    await reading;
  }

  #forceClose(): void {
    if (!this.#state.close()) {
      return;
    }
    this.#finishInput("connection closed by the server");
    this.#state.stopReading();
    this.#wake();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
