/** Garbage, giants, stallers and floods: each gets a clear answer or a clean close. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { BinaryClient, sendRaw, sendText } from "../../src/client/exchange_client.ts";
import { encodeResponse } from "../../src/framing/response_encoder_stream.ts";
import { startTestServer } from "../support/harness.ts";
import { describe, results } from "../support/xml.ts";

const enc = new TextEncoder();

function errorText(xml: string): string {
  const [first, ...rest] = results(xml);
  strictEqual(rest.length, 0, xml);
  strictEqual(first?.name, "error", xml);
  return first!.text;
}

Deno.test("server answers bad frames with an error and keeps serving others", async () => {
  const server = await startTestServer({ limits: { frameBytesMax: 4096 } });
  try {
    ok(
      /length line must be decimal digits/.test(
        errorText(await sendRaw(server.port, enc.encode("12a\n<x/>"))),
      ),
    );
    ok(
      /length line exceeds 10 digits/.test(
        errorText(await sendRaw(server.port, enc.encode("9".repeat(40)))),
      ),
    );
    ok(
      /exceeds limit of 4096 bytes/.test(
        errorText(await sendRaw(server.port, enc.encode("5000\n" + "x".repeat(5000)))),
      ),
    );
    ok(
      /after 3 of 10 payload bytes/.test(
        errorText(await sendRaw(server.port, enc.encode("10\n<cr"))),
      ),
    );
    ok(/Empty request/.test(errorText(await sendRaw(server.port, enc.encode("0\n")))));
    // After all of that, a normal request still works.
    const answer = await sendText(server.port, `<create><account id="1" balance="1"/></create>`);
    deepStrictEqual(results(answer).map(describe), ["created{id=1}"]);
  } finally {
    await server.close();
  }
});

Deno.test("server ignores bytes after the one request of text framing", async () => {
  const server = await startTestServer();
  try {
    const xml = `<create><account id="1" balance="1"/></create>`;
    const answer = await sendRaw(
      server.port,
      enc.encode(`${xml.length}\n${xml}trailing garbage<<<`),
    );
    deepStrictEqual(results(answer).map(describe), ["created{id=1}"]);
  } finally {
    await server.close();
  }
});

Deno.test("server answers bad XML with an error and the binary connection goes on", async () => {
  const server = await startTestServer();
  const client = await BinaryClient.connect(server.port);
  try {
    const cases: Array<[string, RegExp]> = [
      [`<create><account></create>`, /^Malformed XML/],
      [`<order/>`, /^Unknown request <order>/],
      [`<!DOCTYPE lol [<!ENTITY a "a">]><create>&a;</create>`, /DOCTYPE/],
      [`<create>${"<a>".repeat(50)}${"</a>".repeat(50)}</create>`, /nesting exceeds/],
      [
        `<create><account ${
          Array.from({ length: 40 }, (_, i) => `a${i}="1"`).join(" ")
        }/></create>`,
        /attributes/,
      ],
    ];
    for (const [xml, pattern] of cases) {
      const message = errorText(await client.request(xml));
      ok(pattern.test(message), `${xml.slice(0, 40)} -> ${message}`);
    }
    await client.sendRaw(encodeResponse("binary", "").slice(0, 4));
    ok(/Empty request/.test(errorText(await client.nextAnswer())));
    await client.sendRaw(new Uint8Array([0, 0, 0, 3, 0xff, 0xfe, 0xfd]));
    ok(/UTF-8/.test(errorText(await client.nextAnswer())));
    const answer = await client.request(
      `<create><account id="5" balance="1"/><bogus x="1"/></create>`,
    );
    deepStrictEqual(results(answer).map(describe), ["created{id=5}", "error{x=1}"]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("server refuses a huge number of children as a whole", async () => {
  const server = await startTestServer({ limits: { childrenPerRequestMax: 100 } });
  try {
    const xml = `<create>${`<account id="1" balance="1"/>`.repeat(101)}</create>`;
    ok(/101 operations, over the limit of 100/.test(errorText(await sendText(server.port, xml))));
    const count = await server.db.sql`SELECT count(*)::int AS n FROM accounts`;
    strictEqual(count[0]!.n, 0);
  } finally {
    await server.close();
  }
});

Deno.test("server answers an oversize binary frame, then closes that connection", async () => {
  const server = await startTestServer({ limits: { frameBytesMax: 1000 } });
  const client = await BinaryClient.connect(server.port);
  try {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 1_000_000, false);
    await client.sendRaw(header);
    ok(/exceeds limit of 1000 bytes/.test(errorText(await client.nextAnswer())));
    await client.closed();
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("server closes a client stalled mid-frame, with an error, after the frame timeout", async () => {
  const server = await startTestServer({ limits: { frameTimeoutMs: 300 } });
  try {
    const started = performance.now();
    const answer = await sendRawKeepOpen(server.port, enc.encode("100\n<create>"));
    const elapsed = performance.now() - started;
    ok(/timed out after 300 ms without a complete frame/.test(errorText(answer)), answer);
    // The server's deadline counts from after the client started, so this bound is exact.
    ok(elapsed >= 300, `closed after ${elapsed} ms, before the frame timeout`);
  } finally {
    await server.close();
  }
});

Deno.test("server closes a client that never sends", async () => {
  const server = await startTestServer({ limits: { frameTimeoutMs: 200 } });
  try {
    // Waits for the close, however late it comes; the idle timeout (60 s) cannot be the cause.
    const silent = await sendRawKeepOpen(server.port, new Uint8Array(0));
    strictEqual(silent, "");
  } finally {
    await server.close();
  }
});

Deno.test("server closes an idle binary connection after the idle timeout", async () => {
  // The frame timeout is far away: it could otherwise close a client that a loaded machine
  // holds between connecting and sending (as "sent nothing"), or while it reads its answer.
  const server = await startTestServer({
    limits: { frameTimeoutMs: 60_000, idleTimeoutMs: 1_000 },
  });
  try {
    const client = await BinaryClient.connect(server.port);
    const started = performance.now();
    await client.request(`<create><account id="1" balance="1"/></create>`);
    await client.closed();
    const idle = performance.now() - started;
    // A lower bound only: the idle time counts from the answer, after `started`.
    ok(idle >= 1_000, `idle connection closed after ${idle} ms, before the idle timeout`);
    client.close();
  } finally {
    await server.close();
  }
});

Deno.test("server serves a flood of connections with a bounded number at once", async () => {
  const server = await startTestServer({
    limits: { connectionsMax: 8 },
    database: { poolSize: 4 },
  });
  try {
    const setup =
      `<create><account id="1" balance="1000000"/><symbol sym="F"><account id="1">1000000</account></symbol></create>`;
    await sendText(server.port, setup);
    const clients = 400;
    let maxSeen = 0;
    const watcher = setInterval(() => {
      maxSeen = Math.max(maxSeen, server.server.connectionCount);
    }, 1);
    const answers = await Promise.all(
      Array.from(
        { length: clients },
        (_, i) =>
          sendText(
            server.port,
            `<transactions id="1"><order sym="F" amount="-1" limit="${100 + i}"/></transactions>`,
          ),
      ),
    );
    clearInterval(watcher);
    const opened = answers.filter((a) => results(a)[0]?.name === "opened").length;
    strictEqual(opened, clients);
    ok(maxSeen <= 8, `at most 8 connections served at once, saw ${maxSeen}`);
    const [row] = await server.db.sql`SELECT count(*)::int AS n FROM orders`;
    strictEqual(row!.n, clients);
  } finally {
    await server.close();
  }
});

/** Sends bytes without closing our side; returns what the server sends before it closes. */
async function sendRawKeepOpen(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (bytes.length > 0) {
      await conn.write(bytes);
    }
    const chunks: string[] = [];
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) {
        return chunks.join("");
      }
      chunks.push(decoder.decode(buffer.subarray(0, n)));
    }
  } finally {
    conn.close();
  }
}

/** 100 bytes at one per 100 ms (100 is the frame's length: it never completes). */
const TRICKLE_BYTES_MAX = 90;
/**
 * Ten times the pause between two bytes: a server with a deadline for silence instead of one
 * for the whole frame would need a stall of a whole second between two bytes to close this
 * client, so a loaded machine cannot make that bug pass.
 */
const TRICKLE_FRAME_TIMEOUT_MS = 1_000;

Deno.test("server closes a client that trickles a frame byte by byte past the frame deadline", async () => {
  const server = await startTestServer({ limits: { frameTimeoutMs: TRICKLE_FRAME_TIMEOUT_MS } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(enc.encode("100\n<create>"));
    // One byte every 100 ms until the server closes: never silent for long, and the frame is
    // never complete, so only a deadline for the whole frame can end this connection (a
    // deadline for silence never would). The cap only turns that bug into a failure.
    let closed = false;
    let trickled = 0;
    const trickle = (async () => {
      while (!closed && trickled < TRICKLE_BYTES_MAX) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          await conn.write(enc.encode(" "));
          trickled++;
        } catch {
          return;
        }
      }
    })();
    const chunks: string[] = [];
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(new TextDecoder().decode(buffer.subarray(0, n)));
    }
    closed = true;
    ok(
      /timed out after 1000 ms without a complete frame/.test(errorText(chunks.join(""))),
      chunks.join(""),
    );
    await trickle;
    ok(trickled < TRICKLE_BYTES_MAX, "the server closed the connection while the client trickled");
  } finally {
    conn.close();
    await server.close();
  }
});
