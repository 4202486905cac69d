/**
 * What the simulated traders send, decided without I/O: a market maker's ladder of quotes
 * around the fair price, and a taker's order that crosses the spread. Both are sized to what
 * the account owns at that moment (its ledger, with all its orders closed), so the exchange
 * never has to refuse one for insufficient funds or shares, however far the price drifts.
 */
import { type Decimal, formatDecimal, multiply, subtract } from "../../src/exchange/decimal.ts";
import {
  centsDecimal,
  type Side,
  wholeShares,
  wholeSharesDecimal,
  wholeSharesFor,
} from "./ledger.ts";

/** One order to place: whole shares at a price in whole cents. */
export interface PlannedOrder {
  side: Side;
  priceCents: number;
  shares: number;
}

/** How one market maker quotes; drawn once per maker from the seed, so makers differ. */
export interface QuoteStyle {
  /** Distance from the centre to its best bid and best ask, as a fraction of the price. */
  halfSpreadFraction: number;
  /** Distance between its levels, as a fraction of the price. */
  levelGapFraction: number;
  levels: number;
  /** Shares at the best level are drawn from sizeMin..sizeMax; deeper levels hold more. */
  sizeMin: number;
  sizeMax: number;
}

/**
 * How far a maker leans against its inventory: holding twice its target in shares moves its
 * quotes down by this fraction of the price (and half the target, up), so that takers buy the
 * surplus back. Without it a maker's inventory is a random walk that ends on one side's floor.
 */
const SKEW_FRACTION = 0.01;

/** A taker's limit lies this fraction of the price beyond the fair price: a few levels deep. */
const TAKER_REACH_FRACTION = 0.004;

/** What a plan needs to know about the account and the market. */
export interface PlanInput {
  fairCents: number;
  cash: Decimal;
  shares: Decimal;
  /** The position the account started with: where its inventory leans back to. */
  targetShares: number;
  random: () => number;
}

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/**
 * Where the inventory stands against its target, from -1 (none) through 0 to 1 (twice or
 * more). A quoting heuristic only: no money or shares are computed from it.
 */
function inventoryLean(shares: Decimal, targetShares: number): number {
  const lean = wholeShares(shares) / targetShares - 1;
  return Math.max(-1, Math.min(1, lean));
}

/**
 * A maker's ladder: `style.levels` bids below and asks above the centre (the fair price leaned
 * against the inventory), best first. Bids together cost at most `cash`, asks together sell at
 * most `shares`: levels that do not fit shrink or are left out.
 */
export function planQuotes(input: PlanInput, style: QuoteStyle): PlannedOrder[] {
  const { fairCents, random } = input;
  const centre = fairCents -
    Math.round(inventoryLean(input.shares, input.targetShares) * fairCents * SKEW_FRACTION);
  const half = Math.max(1, Math.round(fairCents * style.halfSpreadFraction));
  const gap = Math.max(1, Math.round(fairCents * style.levelGapFraction));
  let cashLeft = input.cash;
  let sharesLeft = wholeShares(input.shares);
  const orders: PlannedOrder[] = [];
  for (let level = 0; level < style.levels; level++) {
    const size = Math.round(randomInt(random, style.sizeMin, style.sizeMax) * (1 + level / 2));
    const bidCents = centre - half - level * gap;
    const bidShares = Math.min(size, wholeSharesFor(cashLeft, bidCents));
    if (bidCents > 0 && bidShares > 0) {
      orders.push({ side: "buy", priceCents: bidCents, shares: bidShares });
      cashLeft = subtract(
        cashLeft,
        multiply(centsDecimal(bidCents), wholeSharesDecimal(bidShares)),
      );
    }
    const askShares = Math.min(size, sharesLeft);
    if (askShares > 0) {
      orders.push({ side: "sell", priceCents: centre + half + level * gap, shares: askShares });
      sharesLeft -= askShares;
    }
  }
  return orders;
}

/**
 * A taker's order: a buy or a sell (leaning against its inventory, and to the side it can
 * afford) of a few to a few hundred shares, its limit far enough beyond the fair price to cross
 * the spread and take a level or more. Undefined when the account can afford neither side.
 */
export function planTake(input: PlanInput, sizeMax: number): PlannedOrder | undefined {
  const { fairCents, random } = input;
  const reach = Math.max(1, Math.round(fairCents * TAKER_REACH_FRACTION));
  const buyCents = fairCents + reach;
  const sellCents = Math.max(1, fairCents - reach);
  const buyable = wholeSharesFor(input.cash, buyCents);
  const sellable = wholeShares(input.shares);
  const buyChance = 0.5 - 0.4 * inventoryLean(input.shares, input.targetShares);
  const wantsBuy = random() < buyChance;
  // Mostly small orders, now and then one that sweeps several levels.
  const size = 1 + Math.floor(sizeMax * random() ** 3);
  if ((wantsBuy && buyable > 0) || sellable === 0) {
    return buyable > 0
      ? { side: "buy", priceCents: buyCents, shares: Math.min(size, buyable) }
      : undefined;
  }
  return { side: "sell", priceCents: sellCents, shares: Math.min(size, sellable) };
}

/** The `<order>` element of a plan, with `extraAttributes` (such as a time in force) last. */
export function orderXml(sym: string, order: PlannedOrder, extraAttributes = ""): string {
  const amount = order.side === "buy" ? String(order.shares) : `-${order.shares}`;
  const limit = centsDecimal(order.priceCents);
  return `<order sym="${sym}" amount="${amount}" limit="${
    formatDecimal(limit)
  }"${extraAttributes}/>`;
}
