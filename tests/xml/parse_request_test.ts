import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { parseRequest, RequestSyntaxError } from "../../src/xml/parse_request.ts";
import { XmlRequestStream } from "../../src/xml/xml_request_stream.ts";

const LIMITS = { xmlDepthMax: 8, childrenPerRequestMax: 5, attributesPerElementMax: 4 };
const enc = new TextEncoder();
const parseText = (xml: string) => parseRequest(enc.encode(xml), LIMITS);

function refuses(xml: string | Uint8Array, pattern: RegExp): void {
  const bytes = typeof xml === "string" ? enc.encode(xml) : xml;
  throws(() => parseRequest(bytes, LIMITS), (error: unknown) => {
    return error instanceof RequestSyntaxError && pattern.test(error.message);
  });
}

Deno.test("parseRequest keeps document order of mixed children", () => {
  const request = parseText(
    `<create><account id="1" balance="5"/><symbol sym="X"><account id="1">7</account></symbol>` +
      `<account id="2" balance="6"/></create>`,
  );
  strictEqual(request.kind, "create");
  if (request.kind !== "create") return;
  deepStrictEqual(request.children.map((c) => c.kind), ["account", "symbol", "account"]);
  const symbol = request.children[1]!;
  if (symbol.kind !== "symbol") throw new Error("expected symbol");
  deepStrictEqual(symbol.children, [{
    kind: "account",
    attributes: new Map([["id", "1"]]),
    text: "7",
  }]);
  deepStrictEqual(request.children[2]!.attributes.get("id"), "2");
});

Deno.test("parseRequest reads transactions children and unknown elements", () => {
  const request = parseText(
    `<transactions id="9"><query id="1"/><bogus a="b"/><order sym="X" amount="1" limit="2"/><cancel id="3"/></transactions>`,
  );
  if (request.kind !== "transactions") throw new Error("expected transactions");
  deepStrictEqual(request.attributes.get("id"), "9");
  deepStrictEqual(request.children.map((c) => c.kind), ["query", "unknown", "order", "cancel"]);
});

Deno.test("parseRequest decodes standard entities and keeps attribute values verbatim", () => {
  const request = parseText(`<create><account id="&lt;1&amp;" balance=" 5"/></create>`);
  if (request.kind !== "create") throw new Error("expected create");
  deepStrictEqual(request.children[0]!.attributes.get("id"), "<1&");
  deepStrictEqual(request.children[0]!.attributes.get("balance"), " 5");
});

Deno.test("parseRequest decodes entities and CDATA in an account's share count", () => {
  const request = parseText(
    `<create><symbol sym="X"><account id="1"> &#49;<![CDATA[2]]>&#x33; </account></symbol></create>`,
  );
  if (request.kind !== "create") throw new Error("expected create");
  const symbol = request.children[0]!;
  if (symbol.kind !== "symbol") throw new Error("expected symbol");
  deepStrictEqual(symbol.children[0], {
    kind: "account",
    attributes: new Map([["id", "1"]]),
    text: "123",
  });
});

Deno.test("parseRequest refuses an undefined entity and says where the problem is", () => {
  refuses(`<create><account id="&bogus;"/></create>`, /^Malformed XML: 1:\d+: undefined entity/);
});

Deno.test("parseRequest refuses malformed XML", () => {
  refuses(`<create><account></create>`, /^Malformed XML/);
  refuses(`<create a="1" a="2"/>`, /^Malformed XML/);
  refuses(`<create>`, /not closed/);
  refuses(`<create><account id="1"/>`, /not closed/);
  refuses(`just text`, /^Malformed XML/);
  refuses(`<create/><create/>`, /Malformed XML|Multiple root/);
});

Deno.test("parseRequest accepts comments and a declaration around the root", () => {
  const request = parseText(`<?xml version="1.0"?>\n<!-- hi --><create></create><!-- bye -->\n`);
  strictEqual(request.kind, "create");
});

Deno.test("parseRequest refuses an empty payload and non-UTF-8 bytes", () => {
  refuses(new Uint8Array(0), /^Empty request/);
  refuses(new Uint8Array([0x3c, 0x61, 0xff, 0x2f, 0x3e]), /not valid UTF-8/);
});

Deno.test("parseRequest refuses DOCTYPE and entity declarations without expanding them", () => {
  refuses(`<!DOCTYPE x [<!ENTITY a "aaaa">]><create>&a;</create>`, /DOCTYPE/);
  refuses(`<!doctype create><create/>`, /DOCTYPE/);
});

Deno.test("parseRequest refuses an unknown root element", () => {
  refuses(`<results/>`, /Unknown request <results>/);
});

Deno.test("parseRequest enforces depth, attribute and operation limits", () => {
  refuses(
    `<create>${"<a>".repeat(10)}${"</a>".repeat(10)}</create>`,
    /nesting exceeds the limit of 8/,
  );
  refuses(`<create>${"<a>".repeat(100_000)}${"</a>".repeat(100_000)}</create>`, /nesting exceeds/);
  refuses(
    `<create><account a="1" b="2" c="3" d="4" e="5"/></create>`,
    /5 attributes, over the limit of 4/,
  );
  refuses(
    `<create>${`<account id="1" balance="1"/>`.repeat(6)}</create>`,
    /6 operations, over the limit of 5/,
  );
  refuses(
    `<create><symbol sym="X">${`<account id="1">1</account>`.repeat(6)}</symbol></create>`,
    /6 operations/,
  );
  // A <symbol> with nothing to credit still counts as one operation.
  refuses(`<create>${`<symbol sym="X"/>`.repeat(6)}</create>`, /6 operations/);
  parseText(`<create>${`<symbol sym="X"/>`.repeat(5)}</create>`);
});

Deno.test("XmlRequestStream turns XML problems into non-fatal answers and frame failures into fatal ones", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from([
      { kind: "frame" as const, framing: "binary" as const, payload: enc.encode("<nope") },
      { kind: "frame" as const, framing: "binary" as const, payload: enc.encode("<create/>") },
      { kind: "failure" as const, framing: "binary" as const, message: "cut off" },
    ]).pipeThrough(new XmlRequestStream(LIMITS)),
  );
  deepStrictEqual(out.map((o) => o.kind === "invalid" ? `invalid:${o.fatal}` : o.kind), [
    "invalid:false",
    "request",
    "invalid:true",
  ]);
});
