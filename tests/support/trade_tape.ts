/**
 * Test support: trades made through the real protocol, recorded as the protocol reports them
 * (`<query>` of the incoming order: each fill's shares, price and time), and the per-second
 * candles they must make, computed here independently of the server's SQL.
 */
import { ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import type { Candle } from "../../src/db/market_data.ts";
import {
  add,
  compare,
  type Decimal,
  formatDecimal,
  parseDecimal,
} from "../../src/exchange/decimal.ts";
import { results } from "./xml.ts";

/** One execution, as `<executed shares price time/>` reports it. */
export interface Fill {
  time: number;
  price: string;
  shares: string;
}

function decimal(text: string): Decimal {
  const value = parseDecimal(text);
  if (typeof value === "string") {
    throw new TypeError(`Not a decimal: ${text}`);
  }
  return value;
}

/**
 * Places one order over TCP and returns its fills, oldest first, read back with `<query>`. The
 * order must be accepted; orders sent one after another trade in the order they were sent.
 */
export async function trade(
  port: number,
  account: string,
  sym: string,
  amount: string,
  limit: string,
): Promise<Fill[]> {
  const [opened] = results(
    await sendText(
      port,
      `<transactions id="${account}">` +
        `<order sym="${sym}" amount="${amount}" limit="${limit}"/></transactions>`,
    ),
  );
  strictEqual(opened?.name, "opened", `order ${amount} @ ${limit} refused`);
  const id = opened.attributes.id!;
  const [status] = results(
    await sendText(port, `<transactions id="${account}"><query id="${id}"/></transactions>`),
  );
  strictEqual(status?.name, "status");
  return status.children
    .filter((child) => child.name === "executed")
    .map((child) => ({
      time: Number(child.attributes.time),
      price: formatDecimal(decimal(child.attributes.price!)),
      shares: formatDecimal(decimal(child.attributes.shares!)),
    }));
}

/** The candles `fills` (in trading order) make: one per second, exact open/high/low/close/volume. */
export function candlesOf(fills: readonly Fill[]): Candle[] {
  const candles: Candle[] = [];
  for (const fill of fills) {
    const last = candles.at(-1);
    if (last === undefined || last.time !== fill.time) {
      ok(last === undefined || last.time < fill.time, "fills must be in trading order");
      candles.push({
        time: fill.time,
        open: fill.price,
        high: fill.price,
        low: fill.price,
        close: fill.price,
        shares: fill.shares,
        trades: 1,
      });
      continue;
    }
    const price = decimal(fill.price);
    if (compare(price, decimal(last.high)) > 0) {
      last.high = fill.price;
    }
    if (compare(price, decimal(last.low)) < 0) {
      last.low = fill.price;
    }
    last.close = fill.price;
    last.shares = formatDecimal(add(decimal(last.shares), decimal(fill.shares)));
    last.trades++;
  }
  return candles;
}
