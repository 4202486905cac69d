/**
 * A small client for the exchange protocol, used by the tests, the benchmark and the stress
 * test. Text framing: one request per connection. Binary framing: a persistent connection
 * with pipelining (answers are matched to requests by order).
 */
import { encodeResponse } from "../framing/response_encoder_stream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await writeAll(conn, bytes);
    // End of our stream: the request is complete (or, for tests, cut off right here).
    await conn.closeWrite();
    return decoder.decode(await readToEnd(conn));
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** One request in text framing (length line + XML); returns the XML answer. */
export function sendText(port: number, xml: string, host = "127.0.0.1"): Promise<string> {
  const body = encoder.encode(xml);
  const head = encoder.encode(`${body.length}\n`);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return sendRaw(port, bytes, host);
}

/** A persistent binary-framing connection; `request` may be called many times concurrently. */
export class BinaryClient {
  readonly #conn: Deno.Conn;
  readonly #waiting: Array<{ resolve: (xml: string) => void; reject: (error: Error) => void }> = [];
  readonly #reading: Promise<void>;
  #failure: Error | undefined;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<BinaryClient> {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    return new BinaryClient(conn);
  }

  /** Sends one request; resolves with its answer. Requests are answered in sending order. */
  request(xml: string): Promise<string> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failure);
    }
    const promise = new Promise<string>((resolve, reject) =>
      this.#waiting.push({ resolve, reject })
    );
    writeAll(this.#conn, encodeResponse("binary", xml)).catch((error) => this.#fail(error));
    return promise;
  }

  /** Sends raw bytes (for tests of malformed frames). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#conn, bytes);
  }

  /** Waits for the next answer without sending anything. */
  nextAnswer(): Promise<string> {
    return new Promise<string>((resolve, reject) => this.#waiting.push({ resolve, reject }));
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
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) {
      waiter.reject(this.#failure);
    }
  }

  async #readLoop(): Promise<void> {
    let pending = new Uint8Array(0);
    // One buffer for the connection's life: pipelined answers can arrive many at once.
    const buffer = new Uint8Array(64 * 1024);
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
      const joined = new Uint8Array(pending.length + count);
      joined.set(pending);
      joined.set(buffer.subarray(0, count), pending.length);
      let offset = 0;
      while (joined.length - offset >= 4) {
        const length = new DataView(joined.buffer, offset).getUint32(0, false);
        if (joined.length - offset - 4 < length) {
          break;
        }
        const xml = decoder.decode(joined.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
        this.#waiting.shift()?.resolve(xml);
      }
      pending = joined.slice(offset);
    }
  }
}
