/**
 * The `<error>` messages listed in docs/PROTOCOL.md are exactly the ones the server can send.
 *
 * What the code can send is collected three ways:
 *   1. through a real server and real sockets: a corpus of requests, one per message that input
 *      can provoke (validation, refusals, unreadable XML, broken frames, timeouts);
 *   2. from src/xml/answers.ts: every exported message constant (the outage and bug messages that
 *      no input provokes) and `refusalMessage` of every kind of refusal;
 *   3. a scan of the modules that write messages: every message-like string literal in them
 *      must show up in a collected message, so a message added to the code but not to this
 *      corpus (and so, likely, not to the document) fails the test too.
 * Then, both directions: every collected message matches a template of the document, and every
 * template of the document is matched by a collected message.
 */
import { deepStrictEqual } from "node:assert/strict";
import { parseAnswer } from "../../src/client/parse_answer.ts";
import { sendRaw, sendText } from "../../src/client/exchange_client.ts";
import { parseDecimal } from "../../src/exchange/decimal.ts";
import type { Refusal } from "../../src/exchange/refusal.ts";
import * as answers from "../../src/xml/answers.ts";
import { startTestServer } from "../support/harness.ts";
import {
  codeIn,
  docSection,
  readProtocolDoc,
  tableRows,
  templatePattern,
} from "../support/protocol_doc.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Small limits, so that each limit is reached by a small request. The frame timeout stays at its
 * default (10 s): a loaded machine stalling a client between connecting and sending must not
 * cut off a request of the corpus.
 */
const LIMITS = {
  frameBytesMax: 4096,
  xmlDepthMax: 5,
  childrenPerRequestMax: 20,
  attributesPerElementMax: 4,
};
/** The server for frames that the client stops sending: they end only at the frame deadline. */
const STALL_LIMITS = { ...LIMITS, frameTimeoutMs: 300 };

/** Modules that write the text of `<error>` answers (see the test's comment, step 3). */
const MESSAGE_MODULES = [
  "src/xml/answers.ts",
  "src/xml/parse_request.ts",
  "src/exchange/validation.ts",
  "src/framing/frame_decoder.ts",
  "src/db/accounts.ts",
  "src/db/symbols.ts",
  "src/server/exchange_service.ts",
  "src/server/request_handler_stream.ts",
  "src/server/connection.ts",
];

/**
 * Message texts in the code that no input can provoke, and why. They are not sent, so the
 * document does not list them.
 */
const UNREACHABLE = new Map([
  [
    "Malformed XML: no root element",
    "a guard after the parser: saxes itself refuses a document without a root element",
  ],
]);

/** One of each kind of refusal; a `Record` over the kinds, so a new kind fails type checking. */
const REFUSALS: Record<Refusal["kind"], Refusal> = {
  unknown_symbol: { kind: "unknown_symbol", sym: "NOPE" },
  insufficient_funds: {
    kind: "insufficient_funds",
    needed: decimal("12.5"),
    balance: decimal("3"),
  },
  insufficient_shares: {
    kind: "insufficient_shares",
    sym: "SPY",
    needed: decimal("7"),
    position: decimal("2"),
  },
  unknown_order: { kind: "unknown_order" },
  nothing_open: { kind: "nothing_open" },
  fill_or_kill: { kind: "fill_or_kill", filled: decimal("3"), shares: decimal("5") },
  ref_mismatch: { kind: "ref_mismatch", ref: "a-1", orderId: 7n },
};

function decimal(text: string) {
  const value = parseDecimal(text);
  if (typeof value === "string") {
    throw new Error(`bad decimal ${text}`);
  }
  return value;
}

/** The text of every `<error>` in an answer document. */
function errorsOf(xml: string): string[] {
  if (!xml.startsWith("<results>")) {
    throw new Error(`Not an answer: ${JSON.stringify(xml)}`);
  }
  return parseAnswer(xml).filter((element) => element.name === "error").map((e) => e.text);
}

/** The XML documents of a binary-framed answer stream. */
function binaryDocuments(bytes: Uint8Array): string[] {
  const documents: string[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0, false);
    documents.push(decoder.decode(bytes.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return documents;
}

function binaryFrame(xml: string | Uint8Array, declaredLength?: number): Uint8Array {
  const body = typeof xml === "string" ? encoder.encode(xml) : xml;
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, declaredLength ?? body.length, false);
  frame.set(body, 4);
  return frame;
}

/** Sends `bytes` and keeps the connection open (no end of stream) until the server closes it. */
async function sendAndHold(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    const chunks: number[] = [];
    const buffer = new Uint8Array(4096);
    for (;;) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) {
        return new Uint8Array(chunks);
      }
      chunks.push(...buffer.subarray(0, count));
    }
  } finally {
    conn.close();
  }
}

/** Every `<error>` text a real server sends for the corpus of requests below. */
async function messagesFromTheWire(): Promise<Set<string>> {
  const server = await startTestServer({ limits: LIMITS });
  const seen = new Set<string>();
  const text = async (xml: string) => {
    for (const message of errorsOf(await sendText(server.port, xml))) {
      seen.add(message);
    }
  };
  const rawText = async (bytes: Uint8Array | string) => {
    const answer = await sendRaw(
      server.port,
      typeof bytes === "string" ? encoder.encode(bytes) : bytes,
    );
    errorsOf(answer).forEach((message) => seen.add(message));
  };
  const rawBinary = async (bytes: Uint8Array) => {
    const answer = encoder.encode(await sendRaw(server.port, bytes));
    for (const document of binaryDocuments(answer)) {
      errorsOf(document).forEach((message) => seen.add(message));
    }
  };
  try {
    const digits = (n: number) => "1".repeat(n);
    await text(
      `<create><account id="1" balance="1000"/><account id="2" balance="0"/>` +
        `<symbol sym="SPY"><account id="1">100</account></symbol></create>`,
    );
    // <create>: accounts.
    await text(
      `<create><account balance="5"/><account id="x1" balance="5"/>` +
        `<account id="${digits(33)}" balance="5"/><account id="9"/>` +
        `<account id="9" balance="abc"/><account id="9" balance="${digits(19)}"/>` +
        `<account id="9" balance="-1"/><account id="1" balance="5"/>` +
        `<bogus a="1"/></create>`,
    );
    // <create>: symbols.
    await text(
      `<create><symbol><account id="1">1</account></symbol>` +
        `<symbol sym="S-P"><account id="1">1</account></symbol>` +
        `<symbol sym="${"S".repeat(33)}"/>` +
        `<symbol sym="SPY"><account id="1"></account><account id="1">x</account>` +
        `<account id="1">${digits(20)}</account><account id="1">0</account>` +
        `<account id="77">5</account><holder id="1"/></symbol></create>`,
    );
    // <transactions>: the account check, an empty request, an unknown element.
    await text(`<transactions><order sym="SPY" amount="1" limit="1"/></transactions>`);
    await text(`<transactions id="99"><query id="1"/></transactions>`);
    await text(`<transactions id="1"></transactions>`);
    await text(`<transactions id="1"><trade/></transactions>`);
    // <order>: validation, then the engine's refusals.
    await text(
      `<transactions id="1"><order amount="1" limit="1"/><order sym="SPY" limit="1"/>` +
        `<order sym="SPY" amount="1e3" limit="1"/>` +
        `<order sym="SPY" amount="${digits(19)}" limit="1"/>` +
        `<order sym="SPY" amount="0" limit="1"/><order sym="SPY" amount="1"/>` +
        `<order sym="SPY" amount="1" limit="x"/>` +
        `<order sym="SPY" amount="1" limit="0.${digits(13)}"/>` +
        `<order sym="SPY" amount="1" limit="0"/><order sym="NOPE" amount="1" limit="1"/>` +
        `</transactions>`,
    );
    await text(
      `<transactions id="2"><order sym="SPY" amount="1" limit="5"/>` +
        `<order sym="SPY" amount="-1" limit="5"/></transactions>`,
    );
    // <order> instructions (issue 20): invalid values, a fill-or-kill that cannot fill, a ref
    // used again with other values.
    await text(
      `<transactions id="1"><order sym="SPY" amount="1" limit="1" tif="DAY"/>` +
        `<order sym="SPY" amount="1" limit="1" stp="both"/>` +
        `<order sym="SPY" amount="1" limit="1" ref="a b"/>` +
        `<order sym="SPY" amount="1" limit="1" tif="FOK"/>` +
        `<order sym="SPY" amount="1" limit="1" ref="r1"/>` +
        `<order sym="SPY" amount="2" limit="1" ref="r1"/></transactions>`,
    );
    // <query> and <cancel>.
    await text(
      `<transactions id="1"><query/><query id="abc"/><query id="12345"/>` +
        `<cancel id="12345"/></transactions>`,
    );
    const opened = parseAnswer(
      await sendText(
        server.port,
        `<transactions id="1"><order sym="SPY" amount="-10" limit="50"/></transactions>`,
      ),
    );
    const id = opened[0]!.attributes.id!;
    await text(`<transactions id="1"><cancel id="${id}"/><cancel id="${id}"/></transactions>`);
    // Requests that cannot be read.
    await rawText("0\n");
    await rawText(new Uint8Array([0x33, 0x0a, 0x3c, 0xff, 0x3e]));
    await text(`<!DOCTYPE x><create/>`);
    await text(`<foo/>`);
    await text(`<create>${`<account id="1" balance="1"/>`.repeat(21)}</create>`);
    await text(`<create><a><b><c><d><e/></d></c></b></a></create>`);
    await text(`<create><account a="1" b="2" c="3" d="4" e="5"/></create>`);
    await text(`<create>`);
    await text(`<create></creat>`);
    await text(`<!-- nothing -->`);
    // Broken frames, text framing.
    await rawText("12a\n<create/>");
    await rawText(`${digits(11)}\n`);
    await rawText(`${LIMITS.frameBytesMax + 1}\n`);
    await rawText("5");
    await rawText("10\n<cr");
    // Broken frames, binary framing.
    await rawBinary(binaryFrame("", LIMITS.frameBytesMax + 1));
    await rawBinary(new Uint8Array([0, 0]));
    await rawBinary(binaryFrame("<cr", 10));
  } finally {
    await server.close();
  }
  // Frames the client stops sending, held open until the frame deadline (however late a loaded
  // machine closes them), all at once.
  const stallServer = await startTestServer({ limits: STALL_LIMITS });
  try {
    const held = await Promise.all([
      ...["5", "10\n<cr"].map((stalled) => sendAndHold(stallServer.port, encoder.encode(stalled))),
      sendAndHold(stallServer.port, new Uint8Array([0, 0])),
      sendAndHold(stallServer.port, binaryFrame("<cr", 10)),
    ]);
    held.slice(0, 2).forEach((answer) =>
      errorsOf(decoder.decode(answer)).forEach((message) => seen.add(message))
    );
    for (const answer of held.slice(2)) {
      for (const document of binaryDocuments(answer)) {
        errorsOf(document).forEach((message) => seen.add(message));
      }
    }
  } finally {
    await stallServer.close();
  }
  // The corpus is meant to reach the server's checks, not its bugs.
  deepStrictEqual([...seen].filter((message) => message.startsWith("Internal error")), []);
  return seen;
}

/** Messages no input provokes (outages, bugs), and every refusal, from src/xml/answers.ts. */
function messagesFromAnswersModule(): Set<string> {
  const messages = new Set<string>();
  for (const value of Object.values(answers)) {
    if (typeof value === "string") {
      messages.add(value);
    }
  }
  for (const refusal of Object.values(REFUSALS)) {
    messages.add(answers.refusalMessage(refusal));
  }
  return messages;
}

/**
 * Message-like string literals of a module: double-quoted strings and untagged template
 * literals (comments removed) that start like a sentence or an element and contain a space.
 * A template's `${...}` parts become "anything".
 */
function messageLiterals(source: string): RegExp[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: RegExp[] = [];
  const literal = /"((?:[^"\\\n]|\\.)*)"|(?<![\w$])`((?:[^`\\]|\\.)*)`/g;
  for (const match of code.matchAll(literal)) {
    const body = match[1] ?? match[2]!;
    if (!/^([A-Z<]|\$\{)/.test(body) || !body.includes(" ") || body.includes("\n")) {
      continue;
    }
    const parts = body.split(/\$\{(?:[^{}]|\{[^{}]*\})*\}/);
    const pattern = parts.map((part) =>
      part.replace(/\\"/g, '"').replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    ).join(".+");
    found.push(new RegExp(pattern, "s"));
  }
  return found;
}

/** The templates of the document's message table. */
function documentedTemplates(): string[] {
  const rows = tableRows(docSection(readProtocolDoc(), "error-messages"));
  return rows.map((cells) => codeIn(cells[0]!));
}

Deno.test("docs/PROTOCOL.md lists exactly the error messages the server can send", async () => {
  const collected = new Set([...await messagesFromTheWire(), ...messagesFromAnswersModule()]);
  const templates = documentedTemplates();
  deepStrictEqual(
    templates.filter((template, index) => templates.indexOf(template) !== index),
    [],
    "a template is listed twice",
  );
  const patterns = templates.map((template) => ({ template, pattern: templatePattern(template) }));

  const undocumented = [...collected].filter((message) =>
    !patterns.some(({ pattern }) => pattern.test(message))
  );
  deepStrictEqual(undocumented, [], "messages the server sends that docs/PROTOCOL.md lacks");

  const unproduced = patterns.filter(({ pattern }) =>
    ![...collected].some((message) => pattern.test(message))
  ).map(({ template }) => template);
  deepStrictEqual(unproduced, [], "messages in docs/PROTOCOL.md that the server never sends");

  const root = new URL("../../", import.meta.url);
  const unexercised: string[] = [];
  for (const module of MESSAGE_MODULES) {
    const source = await Deno.readTextFile(new URL(module, root));
    for (const pattern of messageLiterals(source)) {
      if ([...UNREACHABLE.keys()].some((text) => pattern.test(text))) {
        continue;
      }
      if (![...collected].some((message) => pattern.test(message))) {
        unexercised.push(`${module}: ${pattern.source}`);
      }
    }
  }
  deepStrictEqual(
    unexercised,
    [],
    "message texts in the code that no request of this test provokes: add a request (and the " +
      "message to docs/PROTOCOL.md)",
  );
});
