/**
 * The stress workload: many concurrent clients, both framings, trading a few hot symbols from a
 * small set of shared accounts, so that the same symbol, order, account and position rows are
 * contended all the time. It records every order the server acknowledged and every cancel it
 * answered, so that the end state can be checked against what clients were told.
 *
 * Binary clients keep one connection each and pipeline several requests on it; text clients
 * open a connection per request, as the classic clients do. Everything is bounded: by time, by
 * a total request count, and by what one request may hold.
 *
 * Longer than 300 lines on purpose: the request mix, the two kinds of client and the bookkeeping
 * of what each was told are one workload; the verification of its end state is in verify.ts.
 */
import { BinaryClient, sendText } from "../../../src/client/exchange_client.ts";
import { type AnswerElement, parseAnswer } from "../../../src/client/parse_answer.ts";
import { seededRandom } from "../../../scripts/support/seeded_random.ts";

export interface StressOptions {
  port: number;
  host?: string;
  /** Stop sending new requests after this long. */
  durationMs: number;
  /** Persistent binary-framing connections, each pipelining `pipelineDepth` requests. */
  binaryClients: number;
  /** Concurrent text-framing loops, each opening one connection per request. */
  textClients: number;
  pipelineDepth: number;
  symbols: number;
  accounts: number;
  /** Seeds the random choices, to make a run's request mix replayable. */
  seed: number;
  /** Stop after this many requests even if time remains. */
  requestsMax: number;
  /**
   * Give a share of the orders instructions (issue 20): `tif` IOC or FOK, `stp="cancel-newest"`,
   * and `ref`s, some orders sent again as retries (on any connection, so copies race each
   * other). Only instructions whose cancels the order's own answer reports, so that every
   * canceled share is still accounted for by an answer.
   */
  instructions?: boolean;
}

/** An order the server answered with `<opened>`: what was requested, and the id it got. */
export interface AcknowledgedOrder {
  id: string;
  account: string;
  sym: string;
  amount: string;
  limit: string;
}

export interface StressResult {
  options: StressOptions;
  /** The accounts and symbols traded (created by the set-up). */
  accountIds: string[];
  symbols: string[];
  elapsedMs: number;
  requests: number;
  operations: { order: number; query: number; cancel: number; mint: number };
  /** Keyed by transaction id. */
  acknowledged: Map<string, AcknowledgedOrder>;
  /** Transaction id -> shares the `<canceled>` answer reported. */
  canceled: Map<string, string>;
  /** Business refusals by kind ("Insufficient funds", ...), which are expected under load. */
  refusals: Map<string, number>;
  /** Everything that should never happen: unexpected errors, malformed answers, lost connections. */
  problems: string[];
  /** Request latencies in milliseconds, in completion order. */
  latenciesMs: number[];
}

/**
 * Error messages a correct server may give under this workload. Anything else (a deadlock or
 * conflict surfacing, an internal error, the database being unavailable) is a problem.
 */
const EXPECTED_REFUSALS: ReadonlyArray<[string, RegExp]> = [
  ["Insufficient funds", /^Insufficient funds\b/],
  ["Insufficient shares", /^Insufficient shares\b/],
  ["Nothing open to cancel", /nothing open to cancel/i],
  ["Unknown transaction id", /^Unknown transaction id\b/],
  ["Fill or kill", /^Fill or kill: /],
];

const PROBLEMS_KEPT_MAX = 200;
const CHILDREN_PER_REQUEST_MAX = 3;
/**
 * Tight on purpose: a few open buys use up an account's cash and a few sells its shares, so the
 * funds and shares checks decide often and race with fills and cancels of the same account.
 */
const BALANCE = "5000";
const SHARES_PER_ACCOUNT = "100";

/** One planned operation of a request, kept to check its answer. */
type Planned =
  | { kind: "order"; sym: string; amount: string; limit: string; extra?: string; ref?: string }
  | { kind: "query" | "cancel"; id: string }
  | { kind: "mint"; sym: string; account: string };

/** Runs the workload against a server at `options.port`; returns what clients saw. */
export async function runStress(options: StressOptions): Promise<StressResult> {
  const host = options.host ?? "127.0.0.1";
  const random = seededRandom(options.seed);
  const accountIds = Array.from({ length: options.accounts }, (_, i) => String(7000 + i));
  const symbols = Array.from({ length: options.symbols }, (_, i) => `HOT${i}`);
  const result: StressResult = {
    options,
    accountIds,
    symbols,
    elapsedMs: 0,
    requests: 0,
    operations: { order: 0, query: 0, cancel: 0, mint: 0 },
    acknowledged: new Map(),
    canceled: new Map(),
    refusals: new Map(),
    problems: [],
    latenciesMs: [],
  };
  let problemCount = 0;
  const problem = (text: string) => {
    problemCount++;
    if (result.problems.length < PROBLEMS_KEPT_MAX) {
      result.problems.push(text);
    }
  };
  // Each account's acknowledged order ids, as cancel and query targets.
  const ordersOf = new Map<string, string[]>(accountIds.map((id) => [id, []]));
  // Orders sent with a ref, per account (retried now and then); the id each ref was placed as;
  // answers that said "repeated", checked against those ids once every answer is in.
  const withRef = new Map<string, Planned[]>(accountIds.map((id) => [id, []]));
  const refIds = new Map<string, string>();
  const repeats: Array<{ key: string; id: string; answer: string }> = [];
  let refs = 0;

  await setUp(host, options.port, accountIds, symbols);

  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;

  /** A random request: mostly one account's orders, queries and cancels; sometimes a mint. */
  function nextRequest(): { xml: string; account: string | undefined; planned: Planned[] } {
    if (random() < 0.01) {
      const sym = pick(symbols);
      const account = pick(accountIds);
      return {
        xml: `<create><symbol sym="${sym}"><account id="${account}">10</account></symbol></create>`,
        account: undefined,
        planned: [{ kind: "mint", sym, account }],
      };
    }
    const account = pick(accountIds);
    const own = ordersOf.get(account)!;
    const planned: Planned[] = [];
    const count = int(1, CHILDREN_PER_REQUEST_MAX);
    for (let i = 0; i < count; i++) {
      const roll = random();
      const sent = withRef.get(account)!;
      if (options.instructions === true && roll < 0.06 && sent.length > 0) {
        planned.push(pick(sent.slice(-10)));
      } else if (roll < 0.6 || own.length === 0) {
        // 1..20 shares, sometimes with a half; limits 97..103 in steps of 0.25: the book
        // crosses often, so most orders trade against several resting ones.
        const shares = `${int(1, 20)}${random() < 0.2 ? ".5" : ""}`;
        const order: Planned = {
          kind: "order",
          sym: pick(symbols),
          amount: random() < 0.5 ? shares : `-${shares}`,
          limit: centsText(9700 + int(0, 24) * 25),
        };
        if (options.instructions === true && random() < 0.4) {
          const tif = pick(["", ` tif="IOC"`, ` tif="FOK"`]);
          const stp = random() < 0.3 ? ` stp="cancel-newest"` : "";
          const ref = random() < 0.5 ? `${account}-${refs++}` : undefined;
          order.extra = `${tif}${stp}${ref === undefined ? "" : ` ref="${ref}"`}`;
          if (ref !== undefined) {
            order.ref = ref;
            sent.push(order);
          }
        }
        planned.push(order);
      } else {
        // Recent orders are the ones most likely still open; now and then an old one, or
        // another account's (which must be refused without revealing it).
        const which = random();
        let targets = own.slice(-20);
        if (which >= 0.95) {
          targets = accountIds.flatMap((other) => ordersOf.get(other)!.slice(-5));
        } else if (which >= 0.75) {
          targets = own;
        }
        const id = pick(targets);
        planned.push({ kind: roll < 0.8 ? "cancel" : "query", id });
      }
    }
    const children = planned.map((p) => {
      if (p.kind === "order") {
        return `<order sym="${p.sym}" amount="${p.amount}" limit="${p.limit}"${p.extra ?? ""}/>`;
      }
      if (p.kind === "mint") {
        throw new Error("a mint is a <create>, not part of <transactions>");
      }
      return `<${p.kind} id="${p.id}"/>`;
    });
    return {
      xml: `<transactions id="${account}">${children.join("")}</transactions>`,
      account,
      planned,
    };
  }

  function record(
    account: string | undefined,
    planned: Planned[],
    xml: string,
    answer: string,
  ): void {
    let elements: AnswerElement[];
    try {
      elements = parseAnswer(answer);
    } catch (error) {
      problem(`unparsable answer to ${xml}: ${(error as Error).message}`);
      return;
    }
    if (elements.length !== planned.length) {
      problem(`${planned.length} operations got ${elements.length} answers: ${xml} -> ${answer}`);
      return;
    }
    planned.forEach((p, i) => {
      const element = elements[i]!;
      result.operations[p.kind]++;
      if (element.name === "error") {
        const refusal = EXPECTED_REFUSALS.find(([, pattern]) => pattern.test(element.text));
        if (refusal === undefined || p.kind === "mint") {
          problem(`unexpected error for ${p.kind} in ${xml}: ${element.text}`);
        } else {
          result.refusals.set(refusal[0], (result.refusals.get(refusal[0]) ?? 0) + 1);
        }
        return;
      }
      if (p.kind === "mint") {
        if (element.name !== "created") {
          problem(`mint answered <${element.name}>: ${answer}`);
        }
        return;
      }
      if (p.kind === "order") {
        const a = element.attributes;
        if (
          element.name !== "opened" || a.sym !== p.sym || a.amount !== p.amount ||
          a.limit !== p.limit
        ) {
          problem(`order answered wrongly: ${xml} -> ${answer}`);
          return;
        }
        const id = a.id ?? "";
        const key = `${account}/${p.ref}`;
        if (a.repeated === "true") {
          // The order that holds the ref: checked once every answer is in (the first answer
          // may still be on its way).
          repeats.push({ key, id, answer });
          return;
        }
        if (p.ref !== undefined) {
          if (refIds.has(key)) {
            problem(`ref ${key} placed twice, as ${refIds.get(key)} and ${id}: ${answer}`);
            return;
          }
          refIds.set(key, id);
        }
        // An IOC order's rest, or the rest of one stopped by self-trade prevention, is canceled
        // at once: its own answer reports it, as a cancel's answer would.
        const canceledNow = element.children.find((child) => child.name === "canceled");
        if (canceledNow?.attributes.shares !== undefined) {
          result.canceled.set(id, canceledNow.attributes.shares);
        }
        if (!/^[1-9][0-9]*$/.test(id) || result.acknowledged.has(id)) {
          problem(`order acknowledged with a bad or reused id ${JSON.stringify(id)}: ${answer}`);
          return;
        }
        result.acknowledged.set(id, {
          id,
          account: account!,
          sym: p.sym,
          amount: p.amount,
          limit: p.limit,
        });
        ordersOf.get(account!)!.push(id);
        return;
      }
      const expected = p.kind === "cancel" ? "canceled" : "status";
      if (element.name !== expected || element.attributes.id !== p.id) {
        problem(`${p.kind} of ${p.id} answered <${element.name}>: ${answer}`);
        return;
      }
      if (p.kind === "cancel") {
        const canceled = element.children[0];
        if (canceled?.name !== "canceled" || canceled.attributes.shares === undefined) {
          problem(`cancel answer without <canceled shares>: ${answer}`);
          return;
        }
        if (result.canceled.has(p.id)) {
          problem(`order ${p.id} was canceled twice: ${answer}`);
          return;
        }
        result.canceled.set(p.id, canceled.attributes.shares);
      }
    });
  }

  const started = performance.now();
  const deadline = started + options.durationMs;
  const more = () => performance.now() < deadline && result.requests < options.requestsMax;

  async function one(send: (xml: string) => Promise<string>): Promise<void> {
    const request = nextRequest();
    result.requests++;
    const sentAt = performance.now();
    const answer = await send(request.xml);
    result.latenciesMs.push(performance.now() - sentAt);
    record(request.account, request.planned, request.xml, answer);
  }

  async function textLoop(): Promise<void> {
    while (more()) {
      try {
        await one((xml) => sendText(options.port, xml, host));
      } catch (error) {
        problem(`text client failed: ${(error as Error).message}`);
      }
    }
  }

  async function binaryClient(): Promise<void> {
    const client = await BinaryClient.connect(options.port, host);
    try {
      const lanes = Array.from({ length: options.pipelineDepth }, async () => {
        while (more()) {
          await one((xml) => client.request(xml));
        }
      });
      await Promise.all(lanes);
    } catch (error) {
      problem(`binary client failed: ${(error as Error).message}`);
    } finally {
      client.close();
      await client.closed();
    }
  }

  await Promise.all([
    ...Array.from({ length: options.binaryClients }, binaryClient),
    ...Array.from({ length: options.textClients }, textLoop),
  ]);
  result.elapsedMs = performance.now() - started;
  for (const { key, id, answer } of repeats) {
    if (refIds.get(key) !== id) {
      problem(`a repeated ref ${key} answered order ${id}, not ${refIds.get(key)}: ${answer}`);
    }
  }
  if (problemCount > result.problems.length) {
    result.problems.push(`... and ${problemCount - result.problems.length} more problems`);
  }
  return result;
}

/** Creates the accounts and mints every symbol into every account, checking each answer. */
async function setUp(
  host: string,
  port: number,
  accounts: string[],
  symbols: string[],
): Promise<void> {
  const xml = `<create>${
    accounts.map((id) => `<account id="${id}" balance="${BALANCE}"/>`).join("")
  }${
    symbols.map((sym) =>
      `<symbol sym="${sym}">${
        accounts.map((id) => `<account id="${id}">${SHARES_PER_ACCOUNT}</account>`).join("")
      }</symbol>`
    ).join("")
  }</create>`;
  const answer = parseAnswer(await sendText(port, xml, host));
  const created = answer.filter((element) => element.name === "created").length;
  if (created !== accounts.length * (1 + symbols.length)) {
    throw new Error(
      `Stress set-up failed: ${JSON.stringify(answer.filter((e) => e.name !== "created"))}`,
    );
  }
}

/** Hundredths as plain decimal text: 9750 -> "97.5", 9800 -> "98". */
function centsText(cents: number): string {
  const whole = Math.floor(cents / 100);
  const fraction = String(cents % 100).padStart(2, "0").replace(/0+$/, "");
  return fraction === "" ? String(whole) : `${whole}.${fraction}`;
}
