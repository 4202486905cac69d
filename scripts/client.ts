/**
 * A client for people:
 *
 *   deno task client [--host H] [--port P] [--binary] [--timeout-ms N] FILE.xml|-
 *   deno task client book SYM [--http-host H] [--http-port P] [--depth N]
 *
 * The first form sends each XML document of the file (or of stdin, `-`; several documents may
 * follow one another) and pretty-prints each answer. Text framing by default (a connection per
 * request, like every classic client); `--binary` pipelines them all on one connection.
 * The second prints a symbol's book from the server's HTTP side port.
 * Exit status: 0 when every request was answered, 1 on a connection failure or timeout,
 * 2 on a usage error or unreadable input.
 */
import { parseArgs } from "node:util";
import { BinaryClient, sendText } from "../src/client/exchange_client.ts";
import { formatAnswer } from "../src/client/format_answer.ts";
import { splitDocuments } from "../src/client/split_documents.ts";
import { OPTION } from "../src/option_specs.ts";

const PORT_DEFAULT = OPTION.port.default;
const HTTP_HOST_DEFAULT = OPTION.httpHost.default;
const HTTP_PORT_DEFAULT = OPTION.httpPort.default;

const USAGE = `Usage:
  deno task client [--host H] [--port P] [--binary] [--timeout-ms N] FILE.xml|-
  deno task client book SYM [--http-host H] [--http-port P] [--depth N]

  --host          exchange address (127.0.0.1)
  --port          exchange TCP port (${PORT_DEFAULT})
  --binary        one persistent connection, requests pipelined (binary framing)
  --timeout-ms    give up on connecting or on an answer after this long (10000)
  --http-host     HTTP side port address, for "book" (${HTTP_HOST_DEFAULT})
  --http-port     HTTP side port, for "book" (${HTTP_PORT_DEFAULT})
  --depth         price levels per side, for "book" (10)`;

const TIMEOUT_MS_DEFAULT = 10_000;

class UsageError extends Error {}

function wholeNumber(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) {
    return fallback;
  }
  if (!/^[0-9]{1,9}$/.test(raw)) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

async function readInput(path: string): Promise<string> {
  if (path === "-") {
    return await new Response(Deno.stdin.readable).text();
  }
  return await Deno.readTextFile(path);
}

async function send(
  documents: string[],
  options: { host: string; port: number; binary: boolean; timeoutMs: number },
): Promise<void> {
  const { host, port, timeoutMs } = options;
  if (!options.binary) {
    for (const document of documents) {
      print(await sendText(port, document, host, { timeoutMs }));
    }
    return;
  }
  const client = await BinaryClient.connect(port, host, { timeoutMs });
  try {
    const answers = documents.map((document) => client.request(document));
    for (const answer of answers) {
      print(await answer);
    }
  } finally {
    client.close();
  }
}

function print(xml: string): void {
  try {
    console.log(formatAnswer(xml));
  } catch {
    // Not a <results> document (should not happen): show it as it came.
    console.log(xml.trimEnd());
  }
}

interface Level {
  price: string;
  shares: string;
  orders: number;
}

async function book(
  sym: string,
  options: { host: string; port: number; depth: number; timeoutMs: number },
): Promise<void> {
  const url = `http://${options.host}:${options.port}/api/books/${encodeURIComponent(sym)}` +
    `?depth=${options.depth}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  const body = await response.json();
  if (!response.ok) {
    throw new UsageError(`${response.status}: ${body.error ?? JSON.stringify(body)}`);
  }
  const rows = (side: string, levels: Level[]) =>
    levels.map((l) =>
      `${side.padEnd(4)} ${l.price.padStart(14)} ${l.shares.padStart(14)} ${
        String(l.orders).padStart(7)
      }`
    );
  console.log(`${sym}: ${"price".padStart(19)} ${"shares".padStart(14)} ${"orders".padStart(7)}`);
  console.log([...rows("ask", [...body.asks].reverse()), "-".repeat(42), ...rows("bid", body.bids)]
    .join("\n"));
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        binary: { type: "boolean" },
        "timeout-ms": { type: "string" },
        "http-host": { type: "string" },
        "http-port": { type: "string" },
        depth: { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  try {
    const timeoutMs = wholeNumber(values["timeout-ms"], "timeout-ms", TIMEOUT_MS_DEFAULT);
    if (positionals[0] === "book") {
      if (positionals.length !== 2) {
        throw new UsageError("book needs exactly one symbol");
      }
      await book(positionals[1]!, {
        host: values["http-host"] ?? HTTP_HOST_DEFAULT,
        port: wholeNumber(values["http-port"], "http-port", HTTP_PORT_DEFAULT),
        depth: wholeNumber(values.depth, "depth", 10),
        timeoutMs,
      });
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError("give one FILE.xml, or - for standard input");
    }
    let documents: string[];
    try {
      documents = splitDocuments(await readInput(positionals[0]!));
    } catch (error) {
      console.error(`cannot read ${positionals[0]}: ${(error as Error).message}`);
      return 2;
    }
    if (documents.length === 0) {
      throw new UsageError(`no XML document in ${positionals[0]}`);
    }
    await send(documents, {
      host: values.host ?? "127.0.0.1",
      port: wholeNumber(values.port, "port", PORT_DEFAULT),
      binary: values.binary === true,
      timeoutMs,
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    // Refused, reset, timed out (ClientTimeoutError, fetch's TimeoutError): one line, no stack.
    console.error(`connection failed: ${(error as Error)?.message ?? error}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
