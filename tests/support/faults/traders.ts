/**
 * Closed-loop trading clients over real sockets: each sends its requests, waits for their answers
 * (or 15 s), records what it was told in the {@link Ledger}, and sends the next. Half use the
 * binary framing on a persistent connection, two requests pipelined at a time, half the text
 * framing (one connection per request), so every path of the server meets the faults. Each client trades its own two accounts on a few
 * shared symbols with limits around 100, so orders cross and fill between clients.
 */
import { BinaryClient, ClientTimeoutError, sendText } from "../../../src/client/exchange_client.ts";
import { type AnswerElement, parseAnswer } from "../../../src/client/parse_answer.ts";
import { seededRandom } from "../../../scripts/support/seeded_random.ts";
import { classifyError } from "./answer_class.ts";
import type { Ledger } from "./ledger.ts";
import { taggedLimit } from "./order_tag.ts";

/** A client gives up on an answer after this long and counts the request as unanswered. */
export const ANSWER_TIMEOUT_MS = 15_000;
const HOST = "127.0.0.1";
/** Cash and shares are ample: refusals are not what this workload is about. */
const BALANCE = "100000000";
const SHARES = "1000000";
/** Pause after a refused connection (the server not listening), so a dead server is not spun on. */
const RECONNECT_PAUSE_MS = 100;
/** Acknowledged ids kept per account as cancel and query targets. */
const OWN_IDS_KEPT_MAX = 200;
/** Requests a binary client sends at once (one per account), then awaits together. */
const PIPELINED = 2;
/** Most requests one client sends in a run, whatever the duration. */
const REQUESTS_PER_CLIENT_MAX = 100_000;

/** The load of one run. */
export interface TradersOptions {
  port: number;
  clients: number;
  symbols: readonly string[];
  seed: number;
  ledger: Ledger;
  /** Clients stop sending once this returns true (time is up, or the server died). */
  stopped: () => boolean;
}

/** The two accounts of client `index`. */
export function accountsOf(index: number): [string, string] {
  return [String(100_000 + index * 10), String(100_000 + index * 10 + 1)];
}

/** The account the recovery probe orders from. */
export const PROBE_ACCOUNT = "900000";

/** Creates every client's accounts (cash, shares of every symbol) and the probe account. */
export async function createTraderAccounts(
  port: number,
  clients: number,
  symbols: readonly string[],
): Promise<void> {
  const accounts = [
    PROBE_ACCOUNT,
    ...Array.from({ length: clients }, (_, i) => accountsOf(i))
      .flat(),
  ];
  const xml = `<create>${
    accounts.map((id) => `<account id="${id}" balance="${BALANCE}"/>`).join("")
  }${
    symbols.map((sym) =>
      `<symbol sym="${sym}">${
        accounts.map((id) => `<account id="${id}">${SHARES}</account>`).join("")
      }</symbol>`
    ).join("")
  }</create>`;
  const answer = await sendText(port, xml, HOST, { timeoutMs: 30_000 });
  const refused = parseAnswer(answer).filter((e) => e.name !== "created");
  if (refused.length > 0) {
    throw new Error(`Setting up the traders' accounts failed: ${answer.slice(0, 300)}`);
  }
}

/** One planned operation, kept to read its answer. */
type Planned =
  | { kind: "order"; sym: string; amount: string; limit: string }
  | { kind: "cancel" | "query"; id: string };

/** Runs all clients until `stopped()`; resolves when every one has its last answer. */
export async function runTraders(options: TradersOptions): Promise<void> {
  await Promise.all(
    Array.from({ length: options.clients }, (_, i) => runTrader(options, i, i % 2 === 0)),
  );
}

async function runTrader(options: TradersOptions, index: number, binary: boolean): Promise<void> {
  const random = seededRandom(options.seed * 1_000 + index);
  const ledger = options.ledger;
  const accounts = accountsOf(index);
  const ownIds = new Map<string, string[]>(accounts.map((a) => [a, []]));
  let client: BinaryClient | undefined;
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  for (let n = 0; n < REQUESTS_PER_CLIENT_MAX && !options.stopped(); n += PIPELINED) {
    // A binary client pipelines its two accounts' requests: the server runs requests of orders
    // of one connection at once, and the faults must meet that too.
    const round = Array.from({ length: binary ? PIPELINED : 1 }, (_, i) => {
      const account = accounts[(n + i) % 2]!;
      const planned = plan(account, ownIds.get(account)!, options.symbols, ledger, int);
      const xml = `<transactions id="${account}">${planned.map(toXml).join("")}</transactions>`;
      return { account, planned, xml };
    });
    const started = performance.now();
    /** When each request's answer (or failure) came. */
    const endedAt = round.map(() => started);
    let settled: Array<PromiseSettledResult<string>>;
    try {
      if (binary && client === undefined) {
        client = await BinaryClient.connect(options.port, HOST, { timeoutMs: ANSWER_TIMEOUT_MS });
      }
      const connected = client;
      settled = await Promise.allSettled(
        round.map(({ xml }, i) =>
          (connected === undefined
            ? sendText(options.port, xml, HOST, { timeoutMs: ANSWER_TIMEOUT_MS })
            : connected.request(xml)).finally(() => endedAt[i] = performance.now())
        ),
      );
    } catch {
      // Connecting failed: nothing was sent.
      client = undefined;
      ledger.counts.connectFailures++;
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
      continue;
    }
    if (settled.some((s) => s.status === "rejected")) {
      client?.close();
      client = undefined;
      if (settled.every((s) => s.status === "rejected" && neverSent(s.reason))) {
        ledger.counts.connectFailures++;
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
        continue;
      }
    }
    round.forEach(({ account, planned }, i) => {
      const result = settled[i]!;
      let lost: string | undefined;
      if (result.status === "rejected") {
        const error = result.reason as Error;
        lost = `${error.name}: ${error.message}`;
      } else if (result.value === "") {
        lost = "connection closed without an answer";
      }
      ledger.request(endedAt[i]! - started, lost);
      const elements = lost === undefined
        ? answerElements((result as PromiseFulfilledResult<string>).value, planned.length)
        : undefined;
      planned.forEach((op, j) => {
        const element = elements === undefined ? undefined : elements[j];
        record(ledger, account, op, element, ownIds.get(account)!);
      });
    });
  }
  client?.close();
}

/** The next request of an account: 1 to 3 operations, mostly orders. */
function plan(
  account: string,
  own: string[],
  symbols: readonly string[],
  ledger: Ledger,
  int: (low: number, high: number) => number,
): Planned[] {
  void account;
  const planned: Planned[] = [];
  const count = int(1, 3);
  for (let i = 0; i < count; i++) {
    const roll = int(0, 99);
    if (roll < 70 || own.length === 0) {
      const buy = int(0, 1) === 0;
      const shares = int(1, 20);
      planned.push({
        kind: "order",
        sym: symbols[int(0, symbols.length - 1)]!,
        amount: buy ? String(shares) : String(-shares),
        // Buys 99..101 and sells 99..101: about half of all orders cross on arrival.
        limit: taggedLimit(int(99, 101), ledger.nextTag()),
      });
    } else {
      planned.push({ kind: roll < 85 ? "cancel" : "query", id: own[int(0, own.length - 1)]! });
    }
  }
  return planned;
}

function toXml(op: Planned): string {
  if (op.kind === "order") {
    return `<order sym="${op.sym}" amount="${op.amount}" limit="${op.limit}"/>`;
  }
  return `<${op.kind} id="${op.id}"/>`;
}

/**
 * True if the request never left this process: the connection was refused or never made. Every
 * other error (reset, closed, no answer in time) leaves the request's fate unknown.
 */
function neverSent(error: unknown): boolean {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return true;
  }
  return error instanceof ClientTimeoutError && error.message.startsWith("No connection");
}

/**
 * The answer's elements, one per operation. A single `<error>` for a whole request (a request
 * the server could not complete) stands for every operation; any other shape is a failure.
 */
function answerElements(xml: string, operations: number): Array<AnswerElement | string> {
  let elements: AnswerElement[];
  try {
    elements = parseAnswer(xml);
  } catch (error) {
    return new Array(operations).fill(`unparsable answer: ${(error as Error).message}`);
  }
  if (elements.length === operations) {
    return elements;
  }
  if (elements.length === 1 && elements[0]!.name === "error") {
    return new Array(operations).fill(elements[0]!);
  }
  return new Array(operations).fill(
    `answer has ${elements.length} elements for ${operations} operations: ${xml.slice(0, 200)}`,
  );
}

/** Records one operation's answer; `element` undefined means no answer came (in doubt). */
function record(
  ledger: Ledger,
  account: string,
  op: Planned,
  element: AnswerElement | string | undefined,
  own: string[],
): void {
  let answer = classify(op, element);
  const text = typeof element === "string" ? element : element?.text;
  if (op.kind === "order") {
    const id = typeof element === "object" ? element.attributes.id : undefined;
    const echoed = typeof element === "object" && echoes(op, element);
    if (answer === "acknowledged" && (id === undefined || !echoed)) {
      answer = "failure";
    }
    ledger.count(answer, answer === "failure" ? `order answer ${describe(element)}` : text);
    ledger.orders.push({
      account,
      sym: op.sym,
      amount: op.amount,
      limit: op.limit,
      answer,
      ...(answer === "acknowledged" ? { id: id! } : {}),
      ...(text === undefined || text === "" ? {} : { text }),
    });
    if (answer === "acknowledged") {
      own.push(id!);
      if (own.length > OWN_IDS_KEPT_MAX) {
        own.shift();
      }
    }
    return;
  }
  ledger.count(answer, answer === "failure" ? `${op.kind} answer ${describe(element)}` : text);
  if (op.kind === "cancel") {
    ledger.cancels.push({
      account,
      orderId: op.id,
      answer,
      ...(text === undefined || text === "" ? {} : { text }),
    });
  }
}

function classify(op: Planned, element: AnswerElement | string | undefined) {
  if (element === undefined) {
    return "in_doubt" as const;
  }
  if (typeof element === "string") {
    return "failure" as const;
  }
  if (element.name === "error") {
    return classifyError(element.text);
  }
  const expected = { order: "opened", cancel: "canceled", query: "status" }[op.kind];
  return element.name === expected ? "acknowledged" as const : "failure" as const;
}

/** An `<opened>` must echo the order sent, or the ledger would check the wrong order. */
function echoes(op: { sym: string; amount: string; limit: string }, element: AnswerElement) {
  const a = element.attributes;
  return a.sym === op.sym && a.amount === op.amount && a.limit === op.limit;
}

function describe(element: AnswerElement | string | undefined): string {
  if (element === undefined || typeof element === "string") {
    return element ?? "(none)";
  }
  return `<${element.name} ${JSON.stringify(element.attributes)}>${element.text}`;
}
