import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseBenchOptions } from "../../scripts/bench/options.ts";
import type { PgbenchMode } from "../../scripts/bench/pgbench.ts";
import { planRepetition, type PointSpec } from "../../scripts/bench/plan.ts";
import type { PgbenchRecord, PointRecord, RunResults } from "../../scripts/bench/results.ts";
import { checkTargets, type TargetCheck } from "../../scripts/bench/targets.ts";

const options = parseBenchOptions(["--cores", "all"], 2)!;
const CORES = options.cores[0]!.label;

/** A measured point whose only interesting numbers are its rate and its p99. */
function point(spec: PointSpec, rate: number, p99 = 10): PointRecord {
  const orders = spec.workload === "queries" ? 0 : rate;
  const queries = spec.workload === "queries" ? rate : 0;
  return {
    cores: CORES,
    ...spec,
    repetition: 1,
    elapsedMs: 1000,
    requests: rate,
    ops: rate,
    orders,
    queries,
    cancels: 0,
    requestsPerS: rate,
    opsPerS: rate,
    ordersPerS: orders,
    queriesPerS: queries,
    errors: 0,
    refusals: 0,
    errorMessages: [],
    latency: { p50: 1, p90: 2, p99, max: p99, mean: 1 },
    serverCpuPct: 50,
    postgresCpuPct: 50,
    clientCpuPct: 10,
    serverRssBytes: 100 * 2 ** 20,
    batches: orders === 0 ? 0 : 10,
    batchMean: orders === 0 ? undefined : 2,
    serverCpuSeconds: 0.5,
    postgresCpuSeconds: 0.5,
    serverCpuMsPerOrder: orders === 0 ? undefined : 500 / orders,
    postgresCpuMsPerOrder: orders === 0 ? undefined : 500 / orders,
  };
}

function pgbench(mode: PgbenchMode, clients: number, tps: number): PgbenchRecord {
  return {
    cores: CORES,
    mode,
    protocol: "prepared",
    warmupTransactionsPerClient: 4,
    clients,
    repetition: 1,
    seconds: 2,
    tps,
    latencyAvgMs: 1,
    failed: 0,
    postgresCpuPct: 100,
    postgresCpuMsPerTx: 0.5,
  };
}

/** A run of every planned point: `rate` picks each point's rate, TPC-B 1000, select 10000. */
function run(rate: (p: PointSpec) => number): RunResults {
  const steps = planRepetition(options, true);
  return {
    startedAt: "",
    finishedAt: "",
    totalSeconds: 0,
    provenance: { commit: "unknown", dirty: undefined, changes: [] },
    database: { kind: "embedded", description: "embedded" },
    loadAverage: { start: undefined, end: undefined },
    options,
    machine: {} as RunResults["machine"],
    serverBanner: "",
    pgbenchScale: 64,
    pgbenchInitSeconds: 1,
    points: steps.flatMap((s) => s.kind === "exchange" ? [point(s.point, rate(s.point))] : []),
    pgbench: steps.flatMap((s) =>
      s.kind === "pgbench" ? [pgbench(s.mode, s.clients, s.mode === "tpcb" ? 1000 : 10000)] : []
    ),
    idle: {
      requested: 1000,
      held: 1000,
      errors: 0,
      rssBeforeBytes: 0,
      rssIdleBytes: 150 * 2 ** 20,
      rssAfterBytes: 0,
    },
    steady: undefined,
    deepBook: undefined,
    notes: [],
  };
}

function failing(checks: TargetCheck[]): string[] {
  return checks.filter((c) => c.pass !== true).map((c) => c.name);
}

/** Rates that meet every goal: orders 1000 (= TPC-B), text 600, pipelined 1600, queries 4000. */
function good(p: PointSpec): number {
  if (p.workload === "queries") {
    return p.framing === "text" ? 1000 : 4000;
  }
  if (p.framing === "text") {
    return 600;
  }
  return p.depth > 1 ? 1600 : 1000;
}

Deno.test("checkTargets passes a run that meets every goal of issue 10", () => {
  const checks = checkTargets(run(good));
  deepStrictEqual(failing(checks), []);
  strictEqual(checks.length, 14);
});

Deno.test("checkTargets judges the hot book by its own point and pgbench at its clients", () => {
  const checks = checkTargets(
    run((p) => p.clients === 64 && p.symbols === 1 ? 499 : good(p)),
  );
  deepStrictEqual(failing(checks), [
    "One hot book: orders, binary, 64 clients on 1 symbol, 1 in flight",
  ]);
});

Deno.test("checkTargets fails pipelining that gains too little and binary slower than text", () => {
  const checks = checkTargets(run((p) => {
    if (p.workload === "mix" && p.framing === "binary") {
      return p.depth > 1 ? 899 : 599;
    }
    return good(p);
  }));
  deepStrictEqual(failing(checks), [
    "Binary (1 in flight) vs text: mix, 16 clients",
    "Binary pipelined (4 in flight) vs text: mix, 16 clients",
  ]);
});

Deno.test("checkTargets fails a slow text p99 and a point without its batch size", () => {
  const r = run(good);
  const text = r.points.find((p) => p.workload === "orders" && p.framing === "text")!;
  text.latency.p99 = 25.5;
  r.points[0]!.batchMean = undefined;
  const names = failing(checkTargets(r));
  deepStrictEqual(names, [
    "Orders, text, 16 clients, 4 symbols: p99 latency (worst repetition)",
    "Per point: mean batch size, server and PostgreSQL CPU per order",
  ]);
});

Deno.test("checkTargets reports targets it cannot judge as not measured", () => {
  const r = run(good);
  r.pgbench = [];
  r.idle = undefined;
  const unjudged = checkTargets(r).filter((c) => c.pass === undefined);
  ok(unjudged.some((c) => c.name.startsWith("Orders, binary")));
  ok(unjudged.some((c) => c.name.startsWith("Server RSS")));
  ok(unjudged.every((c) => c.measured === "not measured"));
});

Deno.test("checkTargets judges the targets by points whose clients trade on their own accounts", () => {
  // The shared-accounts point has the target point's framing, clients and symbols.
  const checks = checkTargets(run((p) => p.sharedAccounts > 0 ? 1 : good(p)));
  deepStrictEqual(failing(checks), []);
});

Deno.test("checkTargets asks no PostgreSQL CPU of a run on an external cluster", () => {
  const r = run(good);
  for (const p of r.points) {
    p.postgresCpuMsPerOrder = undefined;
  }
  deepStrictEqual(failing(checkTargets(r)), [
    "Per point: mean batch size, server and PostgreSQL CPU per order",
  ]);
  r.database = { kind: "external", description: "external" };
  deepStrictEqual(failing(checkTargets(r)), []);
});

Deno.test("checkTargets counts the deep book's errors among the run's", () => {
  const r = run(good);
  r.deepBook = { errors: 2 } as RunResults["deepBook"];
  deepStrictEqual(failing(checkTargets(r)), ["Errors (every point of the run)"]);
});
