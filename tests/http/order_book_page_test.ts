/**
 * The live order-book page in a real headless browser: orders placed over TCP show up on the
 * open page (a new price level, then the trade) without a reload, and its charts draw exactly
 * the trades made (read back from the chart library's series) and the book's cumulative depth.
 *
 * `EXCHANGE_SCREENSHOT=docs/order-book.png` also saves a screenshot (`deno task screenshot`).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { sendText } from "../../src/client/exchange_client.ts";
import { launchBrowser } from "../support/browser.ts";
import { startHttpTestServer } from "../support/http.ts";
import { candlesOf, type Fill, trade } from "../support/trade_tape.ts";

const SETUP = `<create>
  <account id="1" balance="1000000"/><account id="2" balance="1000000"/>
  <symbol sym="SPY"><account id="1">5000</account><account id="2">5000</account></symbol>
  <symbol sym="QQQ"><account id="1">100</account></symbol>
</create>`;

/** A book with some depth on both sides, and a few trades. */
const RESTING = `<transactions id="1">
  <order sym="SPY" amount="120" limit="501.25"/><order sym="SPY" amount="80" limit="501.10"/>
  <order sym="SPY" amount="300" limit="500.95"/><order sym="SPY" amount="45" limit="500.80"/>
  <order sym="SPY" amount="-60" limit="501.60"/><order sym="SPY" amount="-150" limit="501.75"/>
  <order sym="SPY" amount="-90" limit="502.00"/><order sym="SPY" amount="-400" limit="502.40"/>
</transactions>`;

/** What the price chart's two series hold, as the chart library returns it. */
interface DrawnPrices {
  candles: Array<{ time: number; open: number; high: number; low: number; close: number }>;
  volume: Array<{ time: number; value: number }>;
}

/** The points the charts were given, read back through lightweight-charts' own series API. */
async function drawnPrices(page: Page): Promise<DrawnPrices> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const { price } = (globalThis as any).exchangeCharts;
    return {
      // deno-lint-ignore no-explicit-any
      candles: price.candles.data().map((c: any) => ({
        time: c.time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
      })),
      // deno-lint-ignore no-explicit-any
      volume: price.volume.data().map((v: any) => ({ time: v.time, value: v.value })),
    };
  });
}

/** The depth chart's points: price, and shares at that price or better. */
async function drawnDepth(page: Page): Promise<Record<"bids" | "asks", number[][]>> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const { depth } = (globalThis as any).exchangeCharts;
    // deno-lint-ignore no-explicit-any
    const points = (series: any) => series.data().map((p: any) => [p.time, p.value]);
    return { bids: points(depth.bids), asks: points(depth.asks) };
  });
}

/** The candles `fills` must draw, as numbers (the chart draws numbers; the feed sent strings). */
function expectedPrices(fills: readonly Fill[]): DrawnPrices {
  const candles = candlesOf(fills);
  return {
    candles: candles.map((c) => ({
      time: c.time,
      open: Number(c.open),
      high: Number(c.high),
      low: Number(c.low),
      close: Number(c.close),
    })),
    volume: candles.map((c) => ({ time: c.time, value: Number(c.shares) })),
  };
}

/**
 * Waits until the page's charts hold what `read` should return, then asserts it: a timeout
 * falls through to the assertion, which shows the difference.
 */
async function assertDrawn<T>(page: Page, read: (page: Page) => Promise<T>, expected: T) {
  const deadline = performance.now() + 15_000;
  let drawn = await read(page);
  while (JSON.stringify(drawn) !== JSON.stringify(expected) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    drawn = await read(page);
  }
  deepStrictEqual(drawn, expected);
}

Deno.test("order-book page shows a new price level and a trade without a reload", async () => {
  const server = await startHttpTestServer();
  const { browser, close } = await launchBrowser();
  try {
    const tcp = server.exchange.port;
    await sendText(tcp, SETUP);
    await sendText(tcp, RESTING);
    const page = await browser.newPage();
    // A script error on the page (the chart library refusing data, say) fails the test.
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(`${server.base}/?sym=SPY`);
    await page.waitForSelector(`#bids tr[data-price="501.25"]`, { timeout: 15_000 });
    strictEqual(await page.$eval("#sym", (e) => (e as unknown as { value: string }).value), "SPY");
    // Marks this document: a reload would lose the mark.
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));

    // A bid at a new, better price level appears by itself.
    await sendText(
      tcp,
      `<transactions id="1"><order sym="SPY" amount="25" limit="501.40"/></transactions>`,
    );
    const level = await page.waitForSelector(`#bids tr[data-price="501.4"]`, { timeout: 15_000 });
    strictEqual(await level!.evaluate((e) => e.getAttribute("data-shares")), "25");
    strictEqual(await page.$eval("#best-bid", (e) => e.textContent), "501.4");

    // A sell crossing it trades at the resting price, and the trade appears.
    const fills: Fill[] = [];
    fills.push(...await trade(tcp, "2", "SPY", "-10", "501.30"));
    deepStrictEqual(fills.map((f) => [f.price, f.shares]), [["501.4", "10"]]);
    await page.waitForSelector(`#trades tr[data-price="501.4"][data-shares="10"]`, {
      timeout: 15_000,
    });
    await page.waitForSelector(`#bids tr[data-price="501.4"][data-shares="15"]`, {
      timeout: 15_000,
    });
    strictEqual(await page.$eval("#last", (e) => e.textContent), "501.4");
    await assertDrawn(page, drawnPrices, expectedPrices(fills));

    // More trades, on both sides, a fractional one among them, in two groups a second apart
    // (pacing only, so that the chart has more than one candle: nothing here asserts time).
    fills.push(...await trade(tcp, "2", "SPY", "-20", "501.10")); // 15 @ 501.4, 5 @ 501.25
    fills.push(...await trade(tcp, "2", "SPY", "30", "501.60")); // 30 @ 501.6
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    fills.push(...await trade(tcp, "2", "SPY", "-5", "500.95")); // 5 @ 501.25
    fills.push(...await trade(tcp, "2", "SPY", "0.5", "502")); // 0.5 @ 501.6
    deepStrictEqual(fills.map((f) => [f.price, f.shares]), [
      ["501.4", "10"],
      ["501.4", "15"],
      ["501.25", "5"],
      ["501.6", "30"],
      ["501.25", "5"],
      ["501.6", "0.5"],
    ]);
    // Every trade is drawn: one candle and one volume bar per second, values as traded.
    await assertDrawn(page, drawnPrices, expectedPrices(fills));
    // The depth chart: each level's price and the shares at that price or better, bids
    // 501.25 x 110 (120 less two fills of 5), 501.1 x 80, 500.95 x 300, 500.8 x 45 and asks
    // 501.6 x 29.5 (60 less 30 and 0.5), 501.75 x 150, 502 x 90, 502.4 x 400.
    await assertDrawn(page, drawnDepth, {
      bids: [[500.8, 535], [500.95, 490], [501.1, 190], [501.25, 110]],
      asks: [[501.6, 29.5], [501.75, 179.5], [502, 269.5], [502.4, 669.5]],
    });
    ok(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded === true));
    deepStrictEqual(pageErrors, []);

    const screenshot = Deno.env.get("EXCHANGE_SCREENSHOT");
    if (screenshot !== undefined) {
      // A few more seconds of trading, so that the picture shows a market in motion.
      // Account 2 crosses the spread; account 1 rests new levels for it to meet.
      const more: Array<[string, string, string]> = [
        ["2", "120", "501.75"],
        ["2", "-60", "501.10"],
        ["1", "-40", "501.90"],
        ["2", "40", "501.90"],
        ["1", "25", "501.30"],
        ["2", "-35", "500.95"],
        ["1", "-50", "502.10"],
        ["2", "70", "502.10"],
      ];
      for (const [account, amount, limit] of more) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        fills.push(...await trade(tcp, account, "SPY", amount, limit));
      }
      await assertDrawn(page, drawnPrices, expectedPrices(fills));
      // Let the last flash fade before the picture.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await page.screenshot({ path: screenshot, fullPage: true });
    }
  } finally {
    await close();
    await server.close();
  }
});
