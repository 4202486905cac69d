/**
 * The live order-book page in a real headless browser: orders placed over TCP show up on the
 * open page (a new price level, then the trade) without a reload.
 *
 * `EXCHANGE_SCREENSHOT=docs/order-book.png` also saves a screenshot (`deno task screenshot`).
 */
import { ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { launchBrowser } from "../support/browser.ts";
import { startHttpTestServer } from "../support/http.ts";

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

Deno.test("order-book page shows a new price level and a trade without a reload", async () => {
  const server = await startHttpTestServer();
  const { browser, close } = await launchBrowser();
  try {
    const tcp = server.exchange.port;
    await sendText(tcp, SETUP);
    await sendText(tcp, RESTING);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 760 });
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
    await sendText(
      tcp,
      `<transactions id="2"><order sym="SPY" amount="-10" limit="501.30"/></transactions>`,
    );
    await page.waitForSelector(`#trades tr[data-price="501.4"][data-shares="10"]`, {
      timeout: 15_000,
    });
    await page.waitForSelector(`#bids tr[data-price="501.4"][data-shares="15"]`, {
      timeout: 15_000,
    });
    strictEqual(await page.$eval("#last", (e) => e.textContent), "501.4");
    ok(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded === true));

    const screenshot = Deno.env.get("EXCHANGE_SCREENSHOT");
    if (screenshot !== undefined) {
      // A few more trades, so that the picture shows a market in motion.
      const more: Array<[string, string]> = [["-20", "501.10"], ["30", "501.60"], ["-5", "500.95"]];
      for (const [amount, limit] of more) {
        await sendText(
          tcp,
          `<transactions id="${
            amount.startsWith("-") ? 2 : 1
          }"><order sym="SPY" amount="${amount}" limit="${limit}"/></transactions>`,
        );
      }
      await page.waitForSelector(`#trades tr:nth-child(5)`, { timeout: 15_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await page.screenshot({ path: screenshot });
    }
  } finally {
    await close();
    await server.close();
  }
});
