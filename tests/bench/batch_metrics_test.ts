import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  batchDelta,
  parseBatchCounters,
  scrapeBatchCounters,
} from "../../scripts/bench/batch_metrics.ts";
import { ExchangeMetrics } from "../../src/observability/metrics.ts";

Deno.test("parseBatchCounters reads the server's own batch-size histogram", async () => {
  const metrics = new ExchangeMetrics();
  deepStrictEqual(parseBatchCounters(await metrics.registry.metrics()), { sum: 0, count: 0 });
  metrics.batch(3);
  metrics.batch(5);
  metrics.batch(1);
  deepStrictEqual(parseBatchCounters(await metrics.registry.metrics()), { sum: 9, count: 3 });
});

Deno.test("parseBatchCounters ignores other metrics and bucket lines", () => {
  const text = [
    'exchange_order_batch_size_bucket{le="1"} 4',
    "exchange_order_batch_size_sum 40",
    "exchange_order_batch_size_count 8",
    "exchange_order_batch_size_sumx 1",
  ].join("\n");
  deepStrictEqual(parseBatchCounters(text), { sum: 40, count: 8 });
  strictEqual(parseBatchCounters("exchange_fills_total 3\n"), undefined);
});

Deno.test("batchDelta gives the mean size of the batches between two scrapes", () => {
  deepStrictEqual(batchDelta({ sum: 10, count: 4 }, { sum: 70, count: 14 }), {
    batches: 10,
    mean: 6,
  });
  deepStrictEqual(batchDelta({ sum: 10, count: 4 }, { sum: 10, count: 4 }), {
    batches: 0,
    mean: undefined,
  });
  strictEqual(batchDelta(undefined, { sum: 1, count: 1 }), undefined);
});

Deno.test("scrapeBatchCounters reads /metrics over HTTP and is undefined when it cannot", async () => {
  const metrics = new ExchangeMetrics();
  metrics.batch(7);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) =>
      new URL(request.url).pathname === "/metrics"
        ? new Response(await metrics.registry.metrics())
        : new Response("not found", { status: 404 }),
  );
  try {
    deepStrictEqual(await scrapeBatchCounters("127.0.0.1", server.addr.port), {
      sum: 7,
      count: 1,
    });
    strictEqual(await scrapeBatchCounters("127.0.0.1", undefined), undefined);
  } finally {
    await server.shutdown();
  }
  // Nothing listens there any more.
  strictEqual(await scrapeBatchCounters("127.0.0.1", server.addr.port), undefined);
});
