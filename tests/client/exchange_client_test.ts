/** The client library's timeouts and its receive buffer, against real sockets. */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { BinaryClient, ClientTimeoutError, sendText } from "../../src/client/exchange_client.ts";
import { startTestServer } from "../support/harness.ts";
import { describe, results } from "../support/xml.ts";

/** A listener that accepts and never answers. */
function silentServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      held.push(conn);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of held) {
        conn.close();
      }
    },
  };
}

Deno.test("sendText and BinaryClient give up after timeoutMs on a silent server", async () => {
  const silent = silentServer();
  try {
    await rejects(
      sendText(silent.port, "<create/>", "127.0.0.1", { timeoutMs: 200 }),
      ClientTimeoutError,
    );
    const client = await BinaryClient.connect(silent.port, "127.0.0.1", { timeoutMs: 200 });
    await rejects(client.request("<create/>"), ClientTimeoutError);
    // The connection is spoilt (answers are ordered): later requests fail at once.
    await rejects(client.request("<create/>"), ClientTimeoutError);
    client.close();
  } finally {
    silent.close();
  }
});

Deno.test("BinaryClient reads many pipelined answers and one larger than its buffer", async () => {
  const server = await startTestServer();
  const client = await BinaryClient.connect(server.port, "127.0.0.1", { timeoutMs: 30_000 });
  try {
    const count = 300;
    const answers = await Promise.all(
      Array.from(
        { length: count },
        (_, i) => client.request(`<create><account id="${i}" balance="1"/></create>`),
      ),
    );
    deepStrictEqual(
      answers.map((a) => results(a).map(describe)[0]),
      answers.map((_, i) => `created{id=${i}}`),
    );
    // One answer of about 300 kB (5000 elements): more than the 64 kB receive buffer.
    const accounts = Array.from({ length: 5000 }, (_, i) => `<account id="${i}" balance="1"/>`);
    const big = await client.request(`<create>${accounts.join("")}</create>`);
    ok(big.length > 64 * 1024, `answer is ${big.length} bytes`);
    const elements = results(big);
    strictEqual(elements.length, 5000);
    strictEqual(elements.filter((e) => e.name === "error").length, count);
  } finally {
    client.close();
    await server.close();
  }
});
