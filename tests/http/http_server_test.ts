/**
 * The HTTP side port through real HTTP: probes, metrics, market data JSON, the page's files,
 * and readiness across a real PostgreSQL outage.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { openDatabase } from "../../src/db/database.ts";
import { formatDecimal, parseDecimal, subtract } from "../../src/exchange/decimal.ts";
import { migrate } from "../../src/db/migrate.ts";
import { TEST_CLUSTER_SETTINGS, testDatabaseConfig } from "../support/harness.ts";
import { getJson, startHttpTestServer } from "../support/http.ts";
import { sample, sampleText } from "../support/metrics_text.ts";
import { candlesOf, type Fill, trade } from "../support/trade_tape.ts";

const SETUP = `<create>
  <account id="1" balance="100000"/><account id="2" balance="100000"/>
  <symbol sym="SPY"><account id="1">1000</account><account id="2">1000</account></symbol>
  <symbol sym="QQQ"/>
</create>`;

Deno.test("HTTP side port serves probes, the page and market data aggregated by level", async () => {
  const server = await startHttpTestServer();
  try {
    const { base } = server;
    await sendText(server.exchange.port, SETUP);
    await sendText(
      server.exchange.port,
      `<transactions id="1">
        <order sym="SPY" amount="10" limit="125.50"/><order sym="SPY" amount="5" limit="125.5"/>
        <order sym="SPY" amount="7" limit="124"/><order sym="SPY" amount="-3" limit="130"/>
        <order sym="SPY" amount="-4" limit="131.25"/>
      </transactions>`,
    );
    // Two fills: 2 at 125.5 (order 1, oldest at the best bid), then 0.5 more at 125.5.
    await sendText(
      server.exchange.port,
      `<transactions id="2"><order sym="SPY" amount="-2" limit="125"/>
       <order sym="SPY" amount="-0.5" limit="125.5"/></transactions>`,
    );

    deepStrictEqual(await getJson(base, "/healthz"), { status: 200, body: { status: "ok" } });
    deepStrictEqual(await getJson(base, "/readyz"), { status: 200, body: { status: "ready" } });
    deepStrictEqual(await getJson(base, "/api/symbols"), {
      status: 200,
      body: { symbols: ["QQQ", "SPY"] },
    });
    deepStrictEqual(await getJson(base, "/api/books/SPY"), {
      status: 200,
      body: {
        sym: "SPY",
        bids: [
          { price: "125.5", shares: "12.5", orders: 2 },
          { price: "124", shares: "7", orders: 1 },
        ],
        asks: [
          { price: "130", shares: "3", orders: 1 },
          { price: "131.25", shares: "4", orders: 1 },
        ],
      },
    });
    deepStrictEqual((await getJson(base, "/api/books/SPY?depth=1")).body, {
      sym: "SPY",
      bids: [{ price: "125.5", shares: "12.5", orders: 2 }],
      asks: [{ price: "130", shares: "3", orders: 1 }],
    });
    deepStrictEqual(await getJson(base, "/api/books/QQQ"), {
      status: 200,
      body: { sym: "QQQ", bids: [], asks: [] },
    });
    const trades = await getJson(base, "/api/trades/SPY");
    strictEqual(trades.status, 200);
    const list = trades.body.trades as Array<Record<string, unknown>>;
    deepStrictEqual(list.map((t) => [t.price, t.shares]), [["125.5", "0.5"], ["125.5", "2"]]);
    ok(list.every((t) => typeof t.time === "number" && t.time > 1_700_000_000));
    strictEqual(trades.body.trades_last_minute, 2);
    strictEqual(trades.body.shares_last_minute, "2.5");
    deepStrictEqual(
      ((await getJson(base, "/api/trades/SPY?limit=1")).body.trades as unknown[]).length,
      1,
    );

    deepStrictEqual(await getJson(base, "/api/books/NOPE"), {
      status: 404,
      body: { error: "Unknown symbol NOPE" },
    });
    strictEqual((await getJson(base, "/api/trades/NOPE")).status, 404);
    strictEqual((await getJson(base, "/api/books/SPY?depth=101")).status, 400);
    strictEqual((await getJson(base, "/api/books/SPY?depth=0")).status, 400);
    strictEqual((await getJson(base, "/api/trades/SPY?limit=201")).status, 400);
    strictEqual((await getJson(base, "/api/books/S-P")).status, 400);
    strictEqual((await getJson(base, "/nothing")).status, 404);
    strictEqual(
      await fetch(base + "/api/symbols", { method: "POST" }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }),
      405,
    );

    const page = await fetch(base + "/?sym=SPY");
    strictEqual(page.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await page.text();
    ok(html.includes(`<script src="/page.js"`));
    ok(html.includes(`<script src="/lightweight-charts.js"`));
    const script = await fetch(base + "/page.js");
    ok((await script.text()).includes("EventSource"));
    // The chart library, served from the installed npm package (no CDN).
    const library = await fetch(base + "/lightweight-charts.js");
    strictEqual(library.headers.get("content-type"), "text/javascript; charset=utf-8");
    ok((await library.text()).includes("window.LightweightCharts="));
  } finally {
    await server.close();
  }
});

Deno.test("/api/candles sums each second's trades exactly, as the protocol reports them", async () => {
  const server = await startHttpTestServer();
  try {
    const { base } = server;
    const tcp = server.exchange.port;
    await sendText(tcp, SETUP);
    deepStrictEqual((await getJson(base, "/api/candles/SPY")).body.candles, []);
    const fills: Fill[] = [];
    // Resting bids of 0.1 at 10.1 and 0.2 at 10.2, then one sell taking both: its two fills
    // are one transaction, so they share a second and make one candle (10.2 then 10.1).
    fills.push(...await trade(tcp, "1", "SPY", "0.1", "10.1"));
    fills.push(...await trade(tcp, "1", "SPY", "0.2", "10.2"));
    fills.push(...await trade(tcp, "2", "SPY", "-0.3", "10"));
    deepStrictEqual(fills.map((f) => [f.price, f.shares]), [["10.2", "0.2"], ["10.1", "0.1"]]);
    strictEqual(fills[0]!.time, fills[1]!.time);
    // A later trade at a higher price: the same second's candle, or the next one.
    fills.push(...await trade(tcp, "1", "SPY", "-1.25", "10.35"));
    fills.push(...await trade(tcp, "2", "SPY", "1.25", "10.35"));
    strictEqual(fills.length, 3);

    const answer = await getJson(base, "/api/candles/SPY");
    strictEqual(answer.status, 200);
    strictEqual(answer.body.sym, "SPY");
    deepStrictEqual(answer.body.candles, candlesOf(fills));
    // The first candle holds the sell's two fills: 0.2 + 0.1 summed exactly (a float sum would
    // be 0.30000000000000004), opened at the first fill's price and closed at the second's.
    const first = answer.body.candles[0]!;
    deepStrictEqual(
      { open: first.open, high: first.high, low: first.low, close: first.close },
      fills[0]!.time === fills[2]!.time
        ? { open: "10.2", high: "10.35", low: "10.1", close: "10.35" }
        : { open: "10.2", high: "10.2", low: "10.1", close: "10.1" },
    );
    strictEqual(first.shares, fills[0]!.time === fills[2]!.time ? "1.55" : "0.3");

    // `limit` counts trades, newest first: one trade is the newest fill alone.
    deepStrictEqual((await getJson(base, "/api/candles/SPY?limit=1")).body.candles, [
      {
        time: fills[2]!.time,
        open: "10.35",
        high: "10.35",
        low: "10.35",
        close: "10.35",
        shares: "1.25",
        trades: 1,
      },
    ]);
    deepStrictEqual(await getJson(base, "/api/candles/QQQ"), {
      status: 200,
      body: { sym: "QQQ", candles: [] },
    });
    strictEqual((await getJson(base, "/api/candles/NOPE")).status, 404);
    strictEqual((await getJson(base, "/api/candles/SPY?limit=0")).status, 400);
    strictEqual((await getJson(base, "/api/candles/SPY?limit=1001")).status, 400);
  } finally {
    await server.close();
  }
});

Deno.test("/metrics counts operations by outcome, fills and exact shares traded", async () => {
  const server = await startHttpTestServer();
  try {
    const metrics = () => fetch(server.base + "/metrics").then((r) => r.text());
    const before = await metrics();
    await sendText(server.exchange.port, SETUP);
    await sendText(
      server.exchange.port,
      `<transactions id="1"><order sym="SPY" amount="0.1" limit="10"/>
        <order sym="SPY" amount="0.2" limit="10"/><order sym="NOPE" amount="1" limit="1"/>
        <query id="99"/></transactions>`,
    );
    await sendText(
      server.exchange.port,
      // Two orders, two separate fills of 0.1 and 0.2 shares.
      `<transactions id="2"><order sym="SPY" amount="-0.1" limit="10"/>
        <order sym="SPY" amount="-0.2" limit="10"/></transactions>`,
    );
    await sendText(server.exchange.port, `<bogus/>`);
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      Math.round((sample(after, name, labels) - sample(before, name, labels)) * 1e9) / 1e9;
    strictEqual(delta("exchange_operations_total", { kind: "create_account", outcome: "ok" }), 2);
    strictEqual(delta("exchange_operations_total", { kind: "create_symbol", outcome: "ok" }), 3);
    strictEqual(delta("exchange_operations_total", { kind: "order", outcome: "ok" }), 4);
    strictEqual(delta("exchange_operations_total", { kind: "order", outcome: "refused" }), 1);
    strictEqual(delta("exchange_operations_total", { kind: "query", outcome: "refused" }), 1);
    strictEqual(delta("exchange_invalid_requests_total", { framing: "text" }), 1);
    strictEqual(delta("exchange_fills_total"), 2);
    // 0.1 + 0.2 summed exactly: a float sum would export a value like 0.30000000000000004.
    const traded = (text: string) => {
      const value = parseDecimal(sampleText(text, "exchange_shares_traded_total"));
      ok(typeof value !== "string", "exchange_shares_traded_total is a plain decimal");
      return value;
    };
    strictEqual(formatDecimal(subtract(traded(after), traded(before))), "0.3");
    strictEqual(delta("exchange_request_duration_seconds_count", { framing: "text" }), 4);
    strictEqual(delta("exchange_connections_total"), 4);
    strictEqual(sample(after, "exchange_connections_open"), 0);
    strictEqual(sample(after, "exchange_db_pool_in_use"), 0);
    ok(after.includes("# TYPE exchange_order_batch_size histogram"));
    ok(after.includes("# TYPE exchange_db_retries_total counter"));
  } finally {
    await server.close();
  }
});

Deno.test("/readyz answers 503 with the reason while PostgreSQL is down, 200 once it is back", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-readyz-" });
  await Deno.chmod(dataDir, 0o755);
  const db = await openDatabase(testDatabaseConfig({ dataDir, connectTimeoutMs: 1_000 }), {
    applicationName: "readyz-test",
    settings: TEST_CLUSTER_SETTINGS,
  });
  await migrate(db, { reset: true });
  const server = await startHttpTestServer({ db, database: { connectTimeoutMs: 1_000 } });
  const embedded = db.embedded!;
  try {
    strictEqual((await getJson(server.base, "/readyz")).status, 200);
    await embedded.stop("fast");
    const down = await getJson(server.base, "/readyz");
    strictEqual(down.status, 503);
    strictEqual(down.body.status, "unavailable");
    ok(/database/.test(String(down.body.reason)), JSON.stringify(down.body));
    strictEqual((await getJson(server.base, "/healthz")).status, 200);
    const book = await getJson(server.base, "/api/books/SPY");
    strictEqual(book.status, 503);
    ok(String(book.body.error).startsWith("Service unavailable"));

    await embedded.restart();
    // Nobody intervenes: the next probes reconnect by themselves.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await getJson(server.base, "/readyz")).status;
      if (status !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    strictEqual(status, 200);
    ok(!server.logs.some((line) => /\n\s+at /.test(line)), server.logs.join("\n"));
  } finally {
    await server.close();
    await embedded.stop("immediate");
    await Deno.remove(dataDir, { recursive: true });
  }
});
