/**
 * The request mix of one simulated trader: orders (about half of them crossing the spread),
 * queries and cancels of its own orders. Prices and amounts are built as decimal strings from
 * small integers: no binary floating point ever reaches a request.
 */
import { seededRandom } from "../support/seeded_random.ts";

/** What a point measures: the realistic mix, or one operation kind for the target checks. */
export type WorkloadKind = "mix" | "orders" | "queries";

/** The kind of one operation inside a request. */
export type OpKind = "order" | "query" | "cancel";

/** One request ready to send, and what it holds. */
export interface BenchRequest {
  xml: string;
  /** The account the request names. */
  account: string;
  ops: OpKind[];
  /** For each op: the order is passive (rests on the book) — only meaningful for orders. */
  passive: boolean[];
}

/** What an answer told us. */
export interface AnswerCheck {
  /** Unexpected `<error>`s and malformed answers. */
  errors: number;
  /** Expected business refusals (insufficient funds, cancel of a fully filled order). */
  refusals: number;
  /** The first few unexpected error messages, for the report. */
  messages: string[];
}

/**
 * Refusals a correct server gives to a correct client in a race it cannot foresee (a fill-or-kill
 * order that finds too little in the book is one).
 */
const EXPECTED_REFUSAL = /Insufficient|nothing open|Fill or kill/i;
/**
 * One top-level element of `<results>`; `<status>`/`<canceled id>` hold child elements, and so
 * does the `<opened>` of an order with a `tif` (its fills and canceled rest).
 */
const RESULT_ELEMENT =
  /<(opened|created)\b[^>]*?(?:\/>|>[\s\S]*?<\/opened>)|<error\b([^>]*)>([^<]*)<\/error>|<(status|canceled)\b[^>]*?(?:\/>|>[\s\S]*?<\/\4>)/g;
const ORDER_ID = /\bid="([0-9]+)"/;
/** Orders a client remembers for queries and cancels (older ones are forgotten). */
const REMEMBERED_MAX = 64;
/**
 * Requests each client sends before a point's clock starts; pgbench gets as many transactions
 * per client before its measured run, so that both sides start equally warm.
 */
export const WARMUP_REQUESTS = 4;

/** Symbol names used by the bench. */
export function symbolNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `BX${i}`);
}

/** An order this client placed, and the account it belongs to (queries are owner-only). */
interface Placed {
  id: string;
  account: string;
}

/** One trader's request stream; shared by the pipelined lanes of a binary connection. */
export class TraderWorkload {
  readonly #accounts: string[];
  readonly #symbols: string[];
  readonly #kind: WorkloadKind;
  readonly #random: () => number;
  /** Share of the aggressive orders sent as IOC or FOK (half each). */
  readonly #immediateShare: number;
  /** Recent orders, for queries. */
  readonly #recent: Placed[] = [];
  /** Recent passive orders not yet canceled, for cancels. */
  readonly #passive: Placed[] = [];

  /**
   * With one account the trader uses it for everything; with several, each new request's
   * orders go to one of them picked at random (queries and cancels to the order's owner).
   */
  constructor(
    accounts: string[],
    symbols: string[],
    kind: WorkloadKind,
    seed: number,
    options: { immediateShare?: number } = {},
  ) {
    if (accounts.length === 0) {
      throw new RangeError("Cannot build a trader without an account");
    }
    this.#accounts = accounts;
    this.#symbols = symbols;
    this.#kind = kind;
    this.#random = seededRandom(seed);
    this.#immediateShare = options.immediateShare ?? 0;
  }

  /** Requests sent before the clock starts, so queries and cancels have orders to refer to. */
  warmup(): BenchRequest[] {
    return Array.from(
      { length: WARMUP_REQUESTS },
      () => this.#wrap(this.#pickAccount(), [this.#order(true)]),
    );
  }

  /** The next request of the stream. */
  next(): BenchRequest {
    const account = this.#pickAccount();
    if (this.#kind === "orders") {
      return this.#wrap(account, [this.#order(this.#random() < 0.5)]);
    }
    if (this.#kind === "queries") {
      return this.#wrap(account, [this.#query(account)]);
    }
    // The mix: 60% orders, 30% queries, 10% cancels; one request in ten carries three operations.
    const ops = this.#random() < 0.1 ? 3 : 1;
    const parts: Array<{ xml: string; op: OpKind; passive: boolean }> = [];
    for (let i = 0; i < ops; i++) {
      const r = this.#random();
      parts.push(
        r < 0.6
          ? this.#order(this.#random() < 0.5)
          : r < 0.9
          ? this.#query(account)
          : this.#cancel(account),
      );
    }
    return this.#wrap(account, parts);
  }

  /** Checks an answer against its request and remembers the ids of opened orders. */
  observe(request: BenchRequest, answer: string): AnswerCheck {
    const check: AnswerCheck = { errors: 0, refusals: 0, messages: [] };
    if (!answer.startsWith("<results")) {
      return {
        errors: 1,
        refusals: 0,
        messages: [`not a <results> answer: ${answer.slice(0, 120)}`],
      };
    }
    let index = 0;
    for (const match of answer.matchAll(RESULT_ELEMENT)) {
      const op = request.ops[index];
      if (match[1] === "opened") {
        const id = ORDER_ID.exec(match[0])?.[1];
        if (id !== undefined) {
          this.#remember({ id, account: request.account }, request.passive[index] === true);
        }
      } else if (match[3] !== undefined) {
        if (EXPECTED_REFUSAL.test(match[3]) && op !== "query") {
          check.refusals++;
        } else {
          check.errors++;
          check.messages.push(`${op ?? "?"}: ${match[3]}`);
        }
      }
      index++;
    }
    if (index !== request.ops.length) {
      check.errors++;
      check.messages.push(`answer holds ${index} results for ${request.ops.length} operations`);
    }
    return check;
  }

  #wrap(
    account: string,
    parts: Array<{ xml: string; op: OpKind; passive: boolean }>,
  ): BenchRequest {
    return {
      xml: `<transactions id="${account}">${parts.map((p) => p.xml).join("")}</transactions>`,
      account,
      ops: parts.map((p) => p.op),
      passive: parts.map((p) => p.passive),
    };
  }

  /** The account of the next request; a lone account draws nothing, so its stream is unchanged. */
  #pickAccount(): string {
    const accounts = this.#accounts;
    return accounts.length === 1 ? accounts[0]! : accounts[this.#int(accounts.length)]!;
  }

  #int(below: number): number {
    return Math.floor(this.#random() * below);
  }

  /**
   * Around a mid price of 100: passive buys at 90.0-99.9, passive sells at 100.1-109.9 (they
   * rest), aggressive buys at 112 and sells at 88 (they cross whatever rests on the other side).
   * Half the orders are aggressive, so about half cross and the book stays about the same size.
   */
  #order(passive: boolean): { xml: string; op: OpKind; passive: boolean } {
    const sym = this.#symbols[this.#int(this.#symbols.length)] ?? "BX0";
    const buy = this.#random() < 0.5;
    const shares = String(1 + this.#int(10));
    const tenth = String(this.#int(10));
    const limit = passive
      ? (buy
        ? `${90 + this.#int(10)}.${tenth}`
        : `${100 + this.#int(10)}.${tenth === "0" ? "1" : tenth}`)
      : buy
      ? "112"
      : "88";
    const amount = buy ? shares : `-${shares}`;
    // Only aggressive orders: a passive IOC would cancel at once and never trade. No random
    // draw without a share, so that the stream of a run without one is what it always was.
    let tif = "";
    if (this.#immediateShare > 0 && !passive && this.#random() < this.#immediateShare) {
      tif = this.#random() < 0.5 ? ` tif="IOC"` : ` tif="FOK"`;
    }
    return {
      xml: `<order sym="${sym}" amount="${amount}" limit="${limit}"${tif}/>`,
      op: "order",
      passive,
    };
  }

  /** A query of one of `account`'s recent orders (an order if it has none yet). */
  #query(account: string): { xml: string; op: OpKind; passive: boolean } {
    const own = this.#accounts.length === 1
      ? this.#recent
      : this.#recent.filter((p) => p.account === account);
    const placed = own[this.#int(own.length)];
    return placed === undefined
      ? this.#order(true)
      : { xml: `<query id="${placed.id}"/>`, op: "query", passive: false };
  }

  #cancel(account: string): { xml: string; op: OpKind; passive: boolean } {
    // The newest passive order is the likeliest to be still open; a filled one is an expected refusal.
    const index = this.#passive.findLastIndex((p) => p.account === account);
    const placed = index < 0 ? undefined : this.#passive.splice(index, 1)[0];
    return placed === undefined
      ? this.#order(true)
      : { xml: `<cancel id="${placed.id}"/>`, op: "cancel", passive: false };
  }

  #remember(placed: Placed, passive: boolean): void {
    this.#recent.push(placed);
    if (this.#recent.length > REMEMBERED_MAX) {
      this.#recent.shift();
    }
    if (passive) {
      this.#passive.push(placed);
      if (this.#passive.length > REMEMBERED_MAX) {
        this.#passive.shift();
      }
    }
  }
}

/** The `<create>` request that sets up accounts with ample cash and shares of every symbol. */
export function setupRequest(accounts: string[], symbols: string[]): string {
  // Ample: a trader spends at most ~1100 per order and sells at most 10 shares per order.
  const cash = "1000000000000";
  const shares = "1000000000";
  const accountXml = accounts.map((id) => `<account id="${id}" balance="${cash}"/>`).join("");
  const symbolXml = symbols
    .map((sym) =>
      `<symbol sym="${sym}">${
        accounts.map((id) => `<account id="${id}">${shares}</account>`).join("")
      }</symbol>`
    )
    .join("");
  return `<create>${accountXml}${symbolXml}</create>`;
}
