/**
 * The deep-book point: one account places `--sweep-orders` resting one-share sells on a book of
 * their own, then one buy sweeps them all, while `--sweep-other-clients` clients keep
 * placing orders on another book. It measures the sweep's answer time and how long the other
 * book's orders waited meanwhile: a book's work that holds up every other book shows as the
 * other book's latency rising to the sweep's.
 */
import { BinaryClient } from "../../src/client/exchange_client.ts";
import type { Context } from "./context.ts";
import { createOrThrow } from "./create_request.ts";
import { LatencyRecorder } from "./latency_stats.ts";
import { runLoad, withTimeout } from "./load_runner.ts";
import type { CoreSetting } from "./options.ts";
import { setupRequest } from "./workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** Latency of the other book's orders within one window of the point. */
export interface LatencyWindow {
  /** Orders in the window. */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What the deep-book point measured. */
export interface DeepBookRecord {
  cores: string;
  /** Resting one-share sells the buy swept. */
  restingOrders: number;
  /** Sells per setup request, and connections sending them at once. */
  setupBatch: number;
  setupConnections: number;
  /** How long the other book traded before the buy was sent. */
  leadMs: number;
  setupMs: number;
  setupOrdersPerS: number;
  /** From sending the sweeping buy to its answer. */
  sweepMs: number;
  /** The buy's answer element (`opened`) or its error text. */
  sweepAnswer: string;
  /** The last sell placed (the last in time priority) was executed: the buy swept the book. */
  swept: boolean;
  otherClients: number;
  /** The other book's orders answered before the buy was sent. */
  otherBefore: LatencyWindow;
  /** The other book's orders in flight at any moment while the sweep ran. */
  otherDuring: LatencyWindow;
  /**
   * How many of those waited at least half as long as the sweep: its p50 mixes them with the
   * orders answered just after the buy was sent, before its batch began.
   */
  otherHeld: number;
  /** Unexpected errors of the other book's orders. */
  errors: number;
  errorMessages: string[];
}

/** Every sell and the buy trade at one limit: the sweep crosses the whole book at one price. */
const PRICE = 10;
/**
 * The other book trades alone this long before the buy is sent (its latency before the sweep),
 * and this long after its answer (so that orders sent near the end are answered in the window).
 */
const LEAD_MS = 500;
const TRAIL_MS = 500;
/**
 * A hang guard, not a limit on the server: it answers within its `--operation-timeout-ms`
 * (Service unavailable past it), which may be set as high as an hour.
 */
const SWEEP_ANSWER_TIMEOUT_MS = 3_900_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function latencyWindow(latencies: number[]): LatencyWindow {
  const recorder = new LatencyRecorder();
  for (const ms of latencies) {
    recorder.add(ms);
  }
  const s = recorder.summary();
  return { count: latencies.length, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max };
}

const OPENED_ID = /<opened\b[^>]*\bid="([0-9]+)"/g;

/**
 * Places `count` one-share sells of `sym` for `account`, at most `batch` per request, from `connections`
 * connections at once; returns the id of the last one placed (ids grow in the order orders reach
 * their book, so the largest id is last in time priority). Many connections, not one pipelined
 * one: the server runs a connection's requests, and a request's orders, one after another, so
 * the order engine batches only orders of different connections (one connection placed 185
 * orders/s here, each order a transaction of its own).
 */
async function placeSells(
  ctx: Context,
  account: string,
  sym: string,
  count: number,
  batch: number,
  connections: number,
): Promise<bigint> {
  let next = 0;
  let lastId = 0n;
  // Smaller requests when there are few sells, so that every connection gets some.
  const perRequest = Math.min(batch, Math.ceil(count / connections));
  const lane = async (client: BinaryClient) => {
    while (next < count) {
      const size = Math.min(perRequest, count - next);
      next += size;
      const order = `<order sym="${sym}" amount="-1" limit="${PRICE}"/>`;
      const answer = await withTimeout(
        client.request(`<transactions id="${account}">${order.repeat(size)}</transactions>`),
        SWEEP_ANSWER_TIMEOUT_MS,
      );
      const ids = [...answer.matchAll(OPENED_ID)].map((m) => BigInt(m[1]!));
      if (ids.length !== size) {
        throw new Error(
          `deep-book setup: ${ids.length} of ${size} sells opened: ${answer.slice(0, 300)}`,
        );
      }
      for (const id of ids) {
        lastId = id > lastId ? id : lastId;
      }
    }
  };
  const clients: BinaryClient[] = [];
  try {
    for (let i = 0; i < connections; i++) {
      clients.push(await BinaryClient.connect(ctx.port, ctx.host));
    }
    await Promise.all(clients.map(lane));
  } finally {
    for (const client of clients) {
      client.close();
    }
    await Promise.allSettled(clients.map((c) => c.closed()));
  }
  return lastId;
}

/** Whether order `id` of `account` has been executed and has nothing open. */
async function executedWhole(ctx: Context, account: string, id: bigint): Promise<boolean> {
  const client = await BinaryClient.connect(ctx.port, ctx.host);
  try {
    const answer = await client.request(
      `<transactions id="${account}"><query id="${id}"/></transactions>`,
    );
    return answer.includes("<executed") && !answer.includes("<open");
  } finally {
    client.close();
    await client.closed();
  }
}

/** Measures the deep-book point on the running server. */
export async function measureDeepBook(ctx: Context, cores: CoreSetting): Promise<DeepBookRecord> {
  const o = ctx.options;
  const n = o.sweepOrders;
  // Names of this run only: a book left by an interrupted run is never swept by mistake.
  const deepSym = `BD${ctx.tag}`;
  const otherSym = `BO${ctx.tag}`;
  const seller = `${ctx.tag}90000`;
  const buyer = `${ctx.tag}90001`;
  const others = Array.from(
    { length: o.sweepOtherClients },
    (_, i) => `${ctx.tag}9${String(i + 2).padStart(4, "0")}`,
  );
  await createOrThrow(
    ctx.host,
    ctx.port,
    `<create><account id="${seller}" balance="0"/><account id="${buyer}" balance="${
      n * PRICE
    }"/><symbol sym="${deepSym}"><account id="${seller}">${n}</account></symbol></create>`,
  );
  await createOrThrow(ctx.host, ctx.port, setupRequest(others, [otherSym]));

  log(
    `deep book: placing ${n} resting sells, ${o.sweepSetupBatch} per request, ` +
      `${o.sweepSetupConnections} connections`,
  );
  const setupStarted = performance.now();
  const lastSell = await placeSells(
    ctx,
    seller,
    deepSym,
    n,
    o.sweepSetupBatch,
    o.sweepSetupConnections,
  );
  const setupMs = performance.now() - setupStarted;
  // The setup's dirty pages are flushed now, not during the sweep.
  await ctx.quiesce();

  const buyClient = await BinaryClient.connect(ctx.port, ctx.host);
  const stop = new AbortController();
  const answered: Array<{ sentAt: number; answeredAt: number }> = [];
  let sweep: Promise<{ sentAt: number; answeredAt: number; answer: string }> | undefined;
  try {
    const load = await runLoad({
      host: ctx.host,
      port: ctx.port,
      framing: "binary",
      clients: others.length,
      durationMs: LEAD_MS + SWEEP_ANSWER_TIMEOUT_MS + TRAIL_MS,
      workload: "orders",
      symbols: [otherSym],
      accounts: others,
      pipelineDepth: 1,
      seed: n,
      signal: stop.signal,
      // The other book's orders may wait as long as the sweep: that wait is what is measured.
      requestTimeoutMs: SWEEP_ANSWER_TIMEOUT_MS,
      onStart: () => {
        sweep = (async () => {
          await sleep(LEAD_MS);
          const sentAt = performance.now();
          const answer = await withTimeout(
            buyClient.request(
              `<transactions id="${buyer}"><order sym="${deepSym}" amount="${n}" limit="${PRICE}"/></transactions>`,
            ),
            SWEEP_ANSWER_TIMEOUT_MS,
          );
          const answeredAt = performance.now();
          await sleep(TRAIL_MS);
          return { sentAt, answeredAt, answer };
        })().finally(() => stop.abort());
        // Its failure is thrown below, once the other book's clients have stopped.
        sweep.catch(() => {});
      },
      onAnswer: (_request, sentAt, answeredAt) => answered.push({ sentAt, answeredAt }),
    });
    const s = await sweep!;
    const during = answered.filter((a) => a.sentAt < s.answeredAt && a.answeredAt > s.sentAt)
      .map((a) => a.answeredAt - a.sentAt);
    const sweepMs = s.answeredAt - s.sentAt;
    const before = answered.filter((a) => a.answeredAt <= s.sentAt);
    const record: DeepBookRecord = {
      cores: cores.label,
      restingOrders: n,
      setupBatch: o.sweepSetupBatch,
      setupConnections: o.sweepSetupConnections,
      leadMs: LEAD_MS,
      setupMs,
      setupOrdersPerS: n / (setupMs / 1000),
      sweepMs,
      sweepAnswer: /<opened\b/.test(s.answer)
        ? "opened"
        : (/<error\b[^>]*>([^<]*)</.exec(s.answer)?.[1] ?? s.answer.slice(0, 200)),
      swept: await executedWhole(ctx, seller, lastSell),
      otherClients: others.length,
      otherBefore: latencyWindow(before.map((a) => a.answeredAt - a.sentAt)),
      otherDuring: latencyWindow(during),
      otherHeld: during.filter((ms) => ms >= sweepMs / 2).length,
      errors: load.errors,
      errorMessages: load.errorMessages,
    };
    log(
      `deep book: setup ${(setupMs / 1000).toFixed(1)} s (${
        record.setupOrdersPerS.toFixed(0)
      } orders/s); sweep of ${n} ${record.sweepMs.toFixed(0)} ms (${record.sweepAnswer}, ${
        record.swept ? "swept" : "NOT swept"
      }); other book meanwhile p50 ${record.otherDuring.p50Ms.toFixed(0)} ms, max ${
        record.otherDuring.maxMs.toFixed(0)
      } ms (${record.otherDuring.count} orders); before p50 ${
        record.otherBefore.p50Ms.toFixed(1)
      } ms`,
    );
    return record;
  } finally {
    stop.abort();
    buyClient.close();
    await buyClient.closed();
  }
}
