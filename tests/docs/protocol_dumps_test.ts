/**
 * The hex dumps of docs/PROTOCOL.md are what a real server sends: each documented request is
 * sent byte for byte to a fresh exchange, and the answer's `hexdump -C` must equal the document's
 * (on a mismatch the message shows the dump to paste).
 */
import { strictEqual } from "node:assert/strict";
import { startTestServer } from "../support/harness.ts";
import {
  bytesOfDump,
  codeBlocks,
  docSection,
  hexDump,
  readProtocolDoc,
} from "../support/protocol_doc.ts";

/** Sends `bytes`, ends the stream, returns every byte the server sends before it closes. */
async function exchangeBytes(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await conn.write(bytes.subarray(offset));
    }
    await conn.closeWrite();
    const received: number[] = [];
    const buffer = new Uint8Array(4096);
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) {
        return new Uint8Array(received);
      }
      received.push(...buffer.subarray(0, count));
    }
  } finally {
    conn.close();
  }
}

/** The one code block of section `name`. */
function dumpOf(doc: string, name: string): string {
  const blocks = codeBlocks(docSection(doc, name));
  strictEqual(blocks.length, 1, `section ${name} must hold one code block`);
  return blocks[0]!;
}

Deno.test("docs/PROTOCOL.md: the hex dumps of both framings are what the server sends", async () => {
  const doc = readProtocolDoc();
  const server = await startTestServer();
  try {
    // In this order, on a fresh exchange: the text request creates what the binary one uses.
    for (const framing of ["text", "binary"]) {
      const requestDump = dumpOf(doc, `dump-${framing}-request`);
      const request = bytesOfDump(requestDump);
      strictEqual(hexDump(request), requestDump, `the ${framing} request's dump is well formed`);
      const answer = await exchangeBytes(server.port, request);
      strictEqual(
        hexDump(answer),
        dumpOf(doc, `dump-${framing}-answer`),
        `the ${framing} answer differs; the server sent:\n${hexDump(answer)}`,
      );
    }
  } finally {
    await server.close();
  }
});
