/**
 * The demo's market: market makers quoting ladders around a drifting fair price on each symbol,
 * and takers crossing the spread on any of them, all through the exchange's TCP protocol.
 *
 * Everything happens in one sequence of steps, one request at a time: each step moves every
 * fair price, sends one taker order and refreshes one maker's quotes (in turn). Sequential on
 * purpose: the exchange is deterministic for a given order of requests, so the same seed sends
 * the same orders and gets the same fills (`--seed` replays a run), and no two simulated
 * accounts race each other (no cancel of an order that another trade just filled). The load
 * stays small: about five requests a step.
 */
import { centsDecimal, Ledger, wholeSharesDecimal } from "./ledger.ts";
import { MarketMaker } from "./market_maker.ts";
import { PriceWalk } from "./price_walk.ts";
import type { QuoteStyle } from "./quote_plan.ts";
import { LinkFailure, type SimLink } from "./sim_link.ts";
import type { Tally } from "./tally.ts";
import { Taker } from "./taker.ts";
import { TraderAccount } from "./trader_account.ts";
import { add, formatDecimal, multiply, ZERO } from "../../src/exchange/decimal.ts";
import { seededRandom } from "../support/seeded_random.ts";

/** Shares of its symbol each maker starts with (and leans back to). */
const MAKER_SHARES = 20_000;
/** Shares of every symbol each taker starts with (and leans back to). */
const TAKER_SHARES = 2_000;
/** Starting fair prices are drawn from this range, in cents. */
const START_CENTS_MIN = 2_000;
const START_CENTS_MAX = 20_000;
const QUOTE_LEVELS = 5;
const MINUTE_MS = 60_000;

/** What the market is made of. */
export interface MarketShape {
  symbols: readonly string[];
  /** Makers per symbol. */
  makers: number;
  takers: number;
  seed: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

export class MarketSimulator {
  readonly #link: SimLink;
  readonly #tally: Tally;
  readonly #random: () => number;
  readonly #walks = new Map<string, PriceWalk>();
  readonly #makers: MarketMaker[] = [];
  readonly #takers: Taker[] = [];
  readonly #symbols: readonly string[];
  #steps = 0;

  constructor(shape: MarketShape, link: SimLink, tally: Tally) {
    this.#link = link;
    this.#tally = tally;
    this.#random = seededRandom(shape.seed);
    this.#symbols = shape.symbols;
    const random = this.#random;
    let nextId = 1001;
    for (const sym of shape.symbols) {
      const startCents = START_CENTS_MIN +
        Math.floor(random() * (START_CENTS_MAX - START_CENTS_MIN + 1));
      this.#walks.set(sym, new PriceWalk(startCents));
      // Cash worth the shares at the start: room to buy as much as to sell, and to follow the
      // price to the walk's bound (four times the start) with a full ladder of bids.
      const cash = multiply(centsDecimal(startCents), wholeSharesDecimal(MAKER_SHARES));
      for (let i = 0; i < shape.makers; i++) {
        const shares = new Map([[sym, wholeSharesDecimal(MAKER_SHARES)]]);
        const account = new TraderAccount(String(nextId++), new Ledger(cash, shares));
        this.#makers.push(new MarketMaker(account, sym, makerStyle(random), MAKER_SHARES));
      }
    }
    nextId = 2001;
    let takerCash = ZERO;
    for (const walk of this.#walks.values()) {
      takerCash = add(
        takerCash,
        multiply(centsDecimal(walk.cents), wholeSharesDecimal(TAKER_SHARES)),
      );
    }
    for (let i = 0; i < shape.takers; i++) {
      const shares = new Map(shape.symbols.map((sym) => [sym, wholeSharesDecimal(TAKER_SHARES)]));
      const account = new TraderAccount(String(nextId++), new Ledger(takerCash, shares));
      this.#takers.push(new Taker(account, TAKER_SHARES));
    }
  }

  /**
   * Creates the accounts and their shares through `<create>`, then places every maker's first
   * ladder, so that the book has both sides from the start. Throws if the exchange refuses
   * any of it (for example an exchange that is not empty).
   */
  async setUp(): Promise<void> {
    const accounts = [...this.#makers.map((m) => m.account), ...this.#takers.map((t) => t.account)];
    const children = accounts.map((account) =>
      `<account id="${account.id}" balance="${formatDecimal(account.ledger.cash)}"/>`
    );
    for (const sym of this.#symbols) {
      const holders = accounts.filter((account) => account.ledger.shares(sym).units > 0n);
      const mints = holders.map((account) =>
        `<account id="${account.id}">${formatDecimal(account.ledger.shares(sym))}</account>`
      );
      children.push(`<symbol sym="${sym}">${mints.join("")}</symbol>`);
    }
    const answers = await this.#link.send(`<create>${children.join("")}</create>`);
    const refused = answers.filter((answer) => answer.name !== "created");
    if (refused.length > 0 || answers.length === 0) {
      throw new Error(
        `The exchange refused the demo's accounts: ${refused[0]?.text ?? "no answer"}`,
      );
    }
    for (const maker of this.#makers) {
      await maker.requote(this.#link, this.#tally, this.#fair(maker.sym), this.#random);
    }
  }

  /** One step: every price moves, one taker trades, the next maker in turn re-quotes. */
  async step(): Promise<void> {
    const random = this.#random;
    for (const walk of this.#walks.values()) {
      walk.step(random);
    }
    const taker = this.#takers[Math.floor(random() * this.#takers.length)]!;
    const sym = this.#symbols[Math.floor(random() * this.#symbols.length)]!;
    const maker = this.#makers[this.#steps % this.#makers.length]!;
    this.#steps++;
    // A lost answer is counted by the link; the next step goes on (the taker settles what it
    // left open first, the maker queries every quote it knows of).
    try {
      await taker.trade(this.#link, this.#tally, sym, this.#fair(sym), random);
      await maker.requote(this.#link, this.#tally, this.#fair(maker.sym), random);
    } catch (error) {
      if (!(error instanceof LinkFailure)) {
        throw error;
      }
    }
    this.#tally.count("steps");
  }

  /**
   * Steps `rate` times a second until `signal` aborts, calling `report` with a line each
   * minute. A step in progress when the signal comes is finished. A slow step delays the
   * next ones; there is no burst to catch up.
   */
  async run(rate: number, signal: AbortSignal, report: (line: string) => void): Promise<void> {
    const periodMs = 1000 / rate;
    let next = performance.now();
    let minuteEnds = next + MINUTE_MS;
    let minute = 1;
    while (!signal.aborted) {
      await this.step();
      const now = performance.now();
      if (now >= minuteEnds) {
        report(this.#tally.endMinute(minute++));
        minuteEnds += MINUTE_MS;
      }
      next = Math.max(next + periodMs, now);
      await pause(next - now, signal);
    }
  }

  #fair(sym: string): number {
    return this.#walks.get(sym)!.cents;
  }
}

/** A maker's quoting habits, drawn from the seed so that the makers of a book differ. */
function makerStyle(random: () => number): QuoteStyle {
  const sizeMin = 5 + Math.floor(random() * 11);
  return {
    halfSpreadFraction: 0.0005 + 0.001 * random(),
    levelGapFraction: 0.0004 + 0.0006 * random(),
    levels: QUOTE_LEVELS,
    sizeMin,
    sizeMax: sizeMin + 20 + Math.floor(random() * 41),
  };
}
