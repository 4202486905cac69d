import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { DecodedFrame } from "../../src/framing/frame.ts";
import { FrameDecoder } from "../../src/framing/frame_decoder.ts";
import { LengthPrefixDecoderStream } from "../../src/framing/length_prefix_decoder_stream.ts";

const LIMITS = { frameBytesMax: 1024, lengthLineDigitsMax: 10 };
const enc = new TextEncoder();
const dec = new TextDecoder();

function text(xml: string): Uint8Array {
  return enc.encode(`${enc.encode(xml).length}\n${xml}`);
}

function binary(xml: string): Uint8Array {
  const body = enc.encode(xml);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, 4);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function decode(chunks: Uint8Array[]): Promise<DecodedFrame[]> {
  return await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new LengthPrefixDecoderStream(LIMITS)),
  );
}

function summary(items: DecodedFrame[]): string[] {
  return items.map((item) =>
    item.kind === "frame"
      ? `${item.framing}:${dec.decode(item.payload)}`
      : `${item.framing}!${item.message}`
  );
}

Deno.test("LengthPrefixDecoderStream decodes a text frame split at every byte boundary", async () => {
  const bytes = text("<create/>");
  for (let split = 0; split <= bytes.length; split++) {
    const items = await decode([bytes.slice(0, split), bytes.slice(split)]);
    deepStrictEqual(summary(items), ["text:<create/>"], `split at ${split}`);
  }
});

Deno.test("LengthPrefixDecoderStream decodes binary frames split at every pair of boundaries", async () => {
  const bytes = concat(binary("<a/>"), binary("<bb/>"), binary(""));
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const items = await decode([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
      deepStrictEqual(
        summary(items),
        ["binary:<a/>", "binary:<bb/>", "binary:"],
        `splits ${i},${j}`,
      );
    }
  }
});

Deno.test("LengthPrefixDecoderStream decodes many binary frames arriving in one chunk", async () => {
  const frames = Array.from({ length: 50 }, (_, i) => binary(`<n i="${i}"/>`));
  const items = await decode([concat(...frames)]);
  strictEqual(items.length, 50);
  deepStrictEqual(summary(items).at(-1), `binary:<n i="49"/>`);
});

Deno.test("LengthPrefixDecoderStream decodes one byte at a time", async () => {
  const bytes = concat(binary("<x/>"), binary("<y/>"));
  const items = await decode([...bytes].map((b) => new Uint8Array([b])));
  deepStrictEqual(summary(items), ["binary:<x/>", "binary:<y/>"]);
});

Deno.test("LengthPrefixDecoderStream reads one request in text framing and ignores what follows", async () => {
  const items = await decode([concat(text("<a/>"), text("<b/>"), enc.encode("garbage"))]);
  deepStrictEqual(summary(items), ["text:<a/>"]);
});

Deno.test("LengthPrefixDecoderStream accepts a CRLF length line", async () => {
  deepStrictEqual(summary(await decode([enc.encode("4\r\n<a/>")])), ["text:<a/>"]);
});

Deno.test("LengthPrefixDecoderStream refuses a length line that is not digits", async () => {
  const items = await decode([enc.encode("12x\n<create/>")]);
  deepStrictEqual(summary(items), [
    "text!Cannot decode frame: length line must be decimal digits then a newline",
  ]);
});

Deno.test("LengthPrefixDecoderStream refuses a length line that is too long", async () => {
  const items = await decode([enc.encode("1".repeat(50))]);
  deepStrictEqual(summary(items), ["text!Cannot decode frame: length line exceeds 10 digits"]);
});

Deno.test("LengthPrefixDecoderStream refuses an oversize frame without buffering it", async () => {
  const items = await decode([enc.encode("2000\n"), new Uint8Array(2000)]);
  deepStrictEqual(summary(items), [
    "text!Cannot decode frame: length 2000 exceeds limit of 1024 bytes",
  ]);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 0xffffffff, false);
  deepStrictEqual(summary(await decode([header])), [
    "binary!Cannot decode frame: length 4294967295 exceeds limit of 1024 bytes",
  ]);
});

Deno.test("LengthPrefixDecoderStream accepts a frame of exactly the limit", async () => {
  const xml = "x".repeat(1024);
  deepStrictEqual(summary(await decode([binary(xml)])), [`binary:${xml}`]);
});

Deno.test("LengthPrefixDecoderStream reports a frame cut off by end of stream", async () => {
  deepStrictEqual(summary(await decode([enc.encode("10\n<crea")])), [
    "text!Cannot decode frame: connection closed after 5 of 10 payload bytes",
  ]);
  deepStrictEqual(summary(await decode([new Uint8Array([0, 0])])), [
    "binary!Cannot decode frame: connection closed before the length was complete",
  ]);
  deepStrictEqual(summary(await decode([enc.encode("12")])), [
    "text!Cannot decode frame: connection closed before the length was complete",
  ]);
});

Deno.test("LengthPrefixDecoderStream emits nothing for an empty stream", async () => {
  deepStrictEqual(await decode([]), []);
});

Deno.test("FrameDecoder reports midFrame only while a frame is incomplete", () => {
  const decoder = new FrameDecoder(LIMITS);
  strictEqual(decoder.midFrame, false);
  decoder.push(new Uint8Array([0, 0]));
  strictEqual(decoder.midFrame, true);
  const done = decoder.push(new Uint8Array([0, 1, 65]));
  strictEqual(done.length, 1);
  strictEqual(decoder.midFrame, false);
  ok(!decoder.finished);
  decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  ok(decoder.finished);
});

Deno.test("FrameDecoder with a known framing never guesses it from the first byte", () => {
  // 0x31 is the digit "1": a guessing decoder would read text framing here.
  const guessing = new FrameDecoder(LIMITS);
  strictEqual(guessing.push(new Uint8Array([0x31, 0x0a, 65]))[0]?.kind, "frame");
  const forced = new FrameDecoder({ ...LIMITS, framing: "binary" });
  const [failure] = forced.push(new Uint8Array([0x31, 0, 0, 1]));
  deepStrictEqual(failure, {
    kind: "failure",
    framing: "binary",
    message: `Cannot decode frame: length ${0x31000001} exceeds limit of 1024 bytes`,
  });
  const split = new FrameDecoder({ ...LIMITS, framing: "binary" });
  deepStrictEqual(split.push(binary("<a/>").subarray(0, 5)), []);
  deepStrictEqual(split.push(binary("<a/>").subarray(5)).map((f) => f.kind), ["frame"]);
});
