/**
 * A minimal client of the exchange in TypeScript for Deno, with no imports: copy it anywhere.
 *
 * It sends a `<create>` and a `<transactions>` in text framing (one connection per request),
 * then the same kind of requests in binary framing (one connection, pipelined), and prints every
 * request and answer. The protocol is described in docs/PROTOCOL.md.
 *
 *     deno run --allow-net examples/client.ts [--host 127.0.0.1] [--port 12345] \
 *       [--account ID] [--symbol SYM]
 *
 * ACCOUNT (default: made from the clock, so that runs do not collide) is created with 10000 in
 * cash and 100 shares of SYM, and offers 10 of them at 12.50. Account ACCOUNT + "1" is created
 * with 1000 in cash and buys 4 at up to 13: it meets the offer and pays 12.5 a share. Then it buys
 * 10 more "immediate or cancel" (`tif="IOC"`), with self-trade prevention (`stp`) and a client
 * reference (`ref`): 6 fill, the other 4 are canceled at once; and it sends that order again, as
 * a client does when an answer is lost: the server answers with the first order
 * (`repeated="true"`) instead of placing a second one.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads the value of `--name` from the command line. */
function option(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 && index + 1 < Deno.args.length ? Deno.args[index + 1]! : fallback;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/**
 * Text framing: the XML's length in ASCII digits, a newline, the XML. One request per
 * connection; the answer is plain XML, and the server closes the connection after it.
 */
async function sendText(host: string, port: number, xml: string): Promise<string> {
  const body = encoder.encode(xml);
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await writeAll(conn, new Uint8Array([...encoder.encode(`${body.length}\n`), ...body]));
    return await new Response(conn.readable).text();
  } finally {
    try {
      conn.close();
    } catch {
      // Reading to the end already closed it.
    }
  }
}

/** Binary framing: a 4-byte unsigned big-endian length, then the XML. */
function binaryFrame(xml: string): Uint8Array {
  const body = encoder.encode(xml);
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, false);
  frame.set(body, 4);
  return frame;
}

/** Reads binary-framed answers from one connection, one at a time. */
class AnswerReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#reader = conn.readable.getReader();
  }

  async #bytes(count: number): Promise<Uint8Array> {
    while (this.#buffered.length < count) {
      const { value, done } = await this.#reader.read();
      if (done) {
        throw new Error("the server closed the connection in the middle of an answer");
      }
      this.#buffered = new Uint8Array([...this.#buffered, ...value]);
    }
    const bytes = this.#buffered.slice(0, count);
    this.#buffered = this.#buffered.slice(count);
    return bytes;
  }

  /** One answer: 4-byte big-endian length, then that many bytes of XML. */
  async next(): Promise<string> {
    const length = new DataView((await this.#bytes(4)).buffer).getUint32(0, false);
    return decoder.decode(await this.#bytes(length));
  }
}

/** The transaction id of the first `<opened>` (a real client would use an XML parser). */
function openedId(answer: string): string | undefined {
  return /<opened [^>]*\bid="([0-9]+)"/.exec(answer)?.[1];
}

function show(framing: string, direction: string, xml: string): void {
  console.log(`${framing.padEnd(6)} ${direction} ${xml.trim()}`);
}

async function main(): Promise<void> {
  const host = option("host", "127.0.0.1");
  const port = Number(option("port", "12345"));
  const seller = option("account", String(Date.now()));
  const buyer = `${seller}1`;
  const sym = option("symbol", "SPY");

  // Text framing: one request, one answer, one connection each.
  for (
    const request of [
      `<create><account id="${seller}" balance="10000"/>` +
      `<symbol sym="${sym}"><account id="${seller}">100</account></symbol></create>`,
      `<transactions id="${seller}"><order sym="${sym}" amount="-10" limit="12.50"/>` +
      `</transactions>`,
    ]
  ) {
    show("text", ">", request);
    show("text", "<", await sendText(host, port, request));
  }

  // Binary framing: one connection; both requests are sent before reading either answer
  // (pipelining). The server runs them in order, so the order may use the new account.
  const conn = await Deno.connect({ hostname: host, port });
  try {
    const answers = new AnswerReader(conn);
    const requests = [
      `<create><account id="${buyer}" balance="1000"/></create>`,
      `<transactions id="${buyer}"><order sym="${sym}" amount="4" limit="13"/></transactions>`,
    ];
    for (const request of requests) {
      await writeAll(conn, binaryFrame(request));
    }
    const received: string[] = [];
    for (const request of requests) {
      const answer = await answers.next();
      received.push(answer);
      show("binary", ">", request);
      show("binary", "<", answer);
    }
    // The answer to the order names its transaction id: ask for its status.
    const query = `<transactions id="${buyer}"><query id="${openedId(received[1]!)}"/>` +
      `</transactions>`;
    await writeAll(conn, binaryFrame(query));
    show("binary", ">", query);
    show("binary", "<", await answers.next());
    // Order instructions: an IOC buy with a client reference, then the very same order again
    // (a safe retry: the second answer is the first order's, nothing new is placed). stp: had it
    // met a resting order of its own account, it would have stopped there rather than trade with
    // itself.
    const ioc = `<transactions id="${buyer}"><order sym="${sym}" amount="10" limit="13" ` +
      `tif="IOC" stp="cancel-newest" ref="retry-1"/></transactions>`;
    for (let attempt = 0; attempt < 2; attempt++) {
      await writeAll(conn, binaryFrame(ioc));
      show("binary", ">", ioc);
      show("binary", "<", await answers.next());
    }
  } finally {
    conn.close();
  }
}

await main();
