/**
 * A small client for the exchange protocol, used by the tests, the benchmark, the stress test
 * and `deno task client`. Text framing: one request per connection. Binary framing: a
 * persistent connection with pipelining (answers are matched to requests by order).
 *
 * Every call takes an optional `timeoutMs`: connecting and answering must finish within it, or
 * the call fails with a {@link ClientTimeoutError} (and the connection is closed).
 */
import { FrameDecoder } from "../framing/frame_decoder.ts";
import { encodeResponse } from "../framing/response_encoder_stream.ts";

/**
 * Largest answer accepted, in bytes: far above any answer a server sends (one element per
 * operation of a request), only a bound on what a broken stream could make the client allocate.
 */
const ANSWER_BYTES_MAX = 256 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Limits of one client call. */
export interface ClientOptions {
  /** Give up (and close the connection) after this long; no limit when absent. */
  timeoutMs?: number;
}

/** The server did not connect or answer in time. */
export class ClientTimeoutError extends Error {
  override name = "ClientTimeoutError";
}

/** Connects, giving up after `timeoutMs` (a late connection is closed at once). */
async function connect(
  port: number,
  host: string,
  timeoutMs: number | undefined,
): Promise<Deno.TcpConn> {
  const connecting = Deno.connect({ hostname: host, port });
  if (timeoutMs === undefined) {
    return await connecting;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new ClientTimeoutError(`No connection to ${host}:${port} after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([connecting, expired]);
  } catch (error) {
    connecting.then((conn) => conn.close(), () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until end of stream; returns all bytes. */
async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  // Answers are small: a large buffer per request would cost the benchmark client a 64 kB
  // allocation and zero-fill per text request. Longer answers just take more reads.
  const buffer = new Uint8Array(8 * 1024);
  let total = 0;
  for (;;) {
    let count: number | null;
    try {
      count = await conn.read(buffer);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) {
        break;
      }
      throw error;
    }
    if (count === null) {
      break;
    }
    chunks.push(buffer.slice(0, count));
    total += count;
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** Sends raw bytes on a fresh connection, ends the stream, returns everything the server sends back. */
export async function sendRaw(
  port: number,
  bytes: Uint8Array,
  host = "127.0.0.1",
  options: ClientOptions = {},
): Promise<string> {
  const started = performance.now();
  const conn = await connect(port, host, options.timeoutMs);
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    conn.close();
  }, Math.max(0, options.timeoutMs - (performance.now() - started)));
  try {
    await writeAll(conn, bytes);
    // End of our stream: the request is complete (or, for tests, cut off right here).
    await conn.closeWrite();
    return decoder.decode(await readToEnd(conn));
  } catch (error) {
    if (timedOut) {
      throw new ClientTimeoutError(`No answer from ${host}:${port} after ${options.timeoutMs} ms`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/** One request in text framing (length line + XML); returns the XML answer. */
export function sendText(
  port: number,
  xml: string,
  host = "127.0.0.1",
  options: ClientOptions = {},
): Promise<string> {
  const body = encoder.encode(xml);
  const head = encoder.encode(`${body.length}\n`);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return sendRaw(port, bytes, host, options);
}

/** A persistent binary-framing connection; `request` may be called many times concurrently. */
export class BinaryClient {
  readonly #conn: Deno.Conn;
  readonly #waiting: Array<{ resolve: (xml: string) => void; reject: (error: Error) => void }> = [];
  readonly #reading: Promise<void>;
  readonly #timeoutMs: number | undefined;
  /** Armed while answers are awaited: answers come in order, so a late one spoils the rest. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: Error | undefined;

  private constructor(conn: Deno.Conn, timeoutMs: number | undefined) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#reading = this.#readLoop();
  }

  /** Connects; with `timeoutMs`, connecting and every answer must come within it. */
  static async connect(
    port: number,
    host = "127.0.0.1",
    options: ClientOptions = {},
  ): Promise<BinaryClient> {
    const conn = await connect(port, host, options.timeoutMs);
    conn.setNoDelay(true);
    return new BinaryClient(conn, options.timeoutMs);
  }

  /** Sends one request; resolves with its answer. Requests are answered in sending order. */
  request(xml: string): Promise<string> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failure);
    }
    const promise = this.nextAnswer();
    writeAll(this.#conn, encodeResponse("binary", xml)).catch((error) => this.#fail(error));
    return promise;
  }

  /** Sends raw bytes (for tests of malformed frames). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#conn, bytes);
  }

  /** Waits for the next answer without sending anything. */
  nextAnswer(): Promise<string> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failure);
    }
    const promise = new Promise<string>((resolve, reject) =>
      this.#waiting.push({ resolve, reject })
    );
    this.#armTimer();
    return promise;
  }

  /** (Re)starts the answer deadline while answers are awaited; stops it when none are. */
  #armTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs === undefined || this.#waiting.length === 0) {
      return;
    }
    this.#timer = setTimeout(() => {
      this.#fail(new ClientTimeoutError(`No answer after ${timeoutMs} ms`));
      this.close();
    }, timeoutMs);
  }

  /** Resolves when the server closes the connection. */
  closed(): Promise<void> {
    return this.#reading;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #fail(error: Error): void {
    clearTimeout(this.#timer);
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) {
      waiter.reject(this.#failure);
    }
  }

  /**
   * Reads into one receive buffer and hands each chunk to the {@link FrameDecoder} that the
   * server uses too: it copies each byte once, into an answer allocated at its final size, so
   * the buffer is reused for the next read.
   */
  async #readLoop(): Promise<void> {
    // 64 kB for the connection's life: pipelined answers can arrive many at once.
    const buffer = new Uint8Array(64 * 1024);
    const frames = new FrameDecoder({
      framing: "binary",
      frameBytesMax: ANSWER_BYTES_MAX,
      lengthLineDigitsMax: 0,
    });
    for (;;) {
      let count: number | null;
      try {
        count = await this.#conn.read(buffer);
      } catch (error) {
        this.#fail(error as Error);
        return;
      }
      if (count === null) {
        this.#fail(new Error("Connection closed by the server"));
        return;
      }
      for (const decoded of frames.push(buffer.subarray(0, count))) {
        if (decoded.kind === "failure") {
          this.#fail(new Error(decoded.message));
          this.close();
          return;
        }
        this.#waiting.shift()?.resolve(decoder.decode(decoded.payload));
        this.#armTimer();
      }
    }
  }
}
