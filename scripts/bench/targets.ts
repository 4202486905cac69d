/** The performance targets of issue 10, checked against one run's measurements. */
import { spread } from "./latency_stats.ts";
import type { PgbenchMode } from "./pgbench.ts";
import { onOwnAccounts } from "./plan.ts";
import type { PointRecord, RunResults } from "./results.ts";
import type { Framing } from "./options.ts";
import type { WorkloadKind } from "./workload.ts";

/** One target: what was measured and whether it passes (undefined: not measured). */
export interface TargetCheck {
  name: string;
  goal: string;
  measured: string;
  pass: boolean | undefined;
}

/** The goals, as issue 10 states them. */
const ORDERS_BINARY_VS_TPCB_MIN = 1.0;
const ORDERS_TEXT_VS_TPCB_MIN = 0.5;
const HOT_BOOK_VS_TPCB_MIN = 0.5;
const QUERIES_VS_SELECT_MIN = 0.3;
const BINARY_VS_TEXT_MIN = 1.0;
const PIPELINED_VS_TEXT_MIN = 1.5;
const P99_MAX_MS = 25;
const IDLE_RSS_MAX_MB = 200;

/** The core setting the targets refer to: "all cores" if swept, else the last one. */
export function targetCores(results: RunResults): string | undefined {
  const labels = results.options.cores.map((c) => c.label);
  return labels.find((l) => l.startsWith("all")) ?? labels.at(-1);
}

/** Which points of a run to pick: every field given must match. */
export interface PointFilter {
  cores: string | undefined;
  workload: WorkloadKind;
  framing: Framing;
  depth: number;
  clients: number;
  symbols: number;
}

/** The repetitions of one point whose clients each trade on their own account. */
export function pointsOf(r: RunResults, f: PointFilter): PointRecord[] {
  return r.points.filter((p) =>
    p.cores === f.cores && p.workload === f.workload && p.framing === f.framing &&
    p.depth === f.depth && p.clients === f.clients && p.symbols === f.symbols && onOwnAccounts(p)
  );
}

function mean(records: PointRecord[], metric: (p: PointRecord) => number): number | undefined {
  return records.length === 0 ? undefined : spread(records.map(metric)).mean;
}

/** Mean pgbench tps for one setting, or undefined when it did not run. */
export function pgbenchTps(
  r: RunResults,
  cores: string | undefined,
  mode: PgbenchMode,
  clients: number,
): number | undefined {
  const runs = r.pgbench.filter((p) =>
    p.cores === cores && p.mode === mode && p.clients === clients
  );
  return runs.length === 0 ? undefined : spread(runs.map((p) => p.tps)).mean;
}

/** The rate a workload is judged by: orders for orders, queries for queries, all ops for mix. */
export function workloadRate(p: PointRecord): number {
  if (p.workload === "orders") {
    return p.ordersPerS;
  }
  return p.workload === "queries" ? p.queriesPerS : p.opsPerS;
}

const UNIT: Record<WorkloadKind, string> = {
  orders: "orders/s",
  queries: "queries/s",
  mix: "ops/s",
};
const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

/** A ratio target: `ours / yardstick >= min`; not measured when either side is missing. */
function ratioCheck(
  name: string,
  goal: string,
  ours: number | undefined,
  oursUnit: string,
  yardstick: number | undefined,
  yardstickUnit: string,
  min: number,
): TargetCheck {
  if (ours === undefined || yardstick === undefined || yardstick === 0) {
    return { name, goal, measured: "not measured", pass: undefined };
  }
  return {
    name,
    goal,
    measured: `${f0(ours)} ${oursUnit} vs ${f0(yardstick)} ${yardstickUnit} = ${
      f2(ours / yardstick)
    } x`,
    pass: ours >= min * yardstick,
  };
}

/** Checks every target of issue 10 on the target core setting. */
export function checkTargets(r: RunResults): TargetCheck[] {
  const cores = targetCores(r);
  const o = r.options;
  const c = o.targetClients;
  const s = o.symbols;
  const at = (workload: WorkloadKind, framing: Framing, depth: number) =>
    pointsOf(r, { cores, workload, framing, depth, clients: c, symbols: s });
  const checks: TargetCheck[] = [];
  const tpcb = pgbenchTps(r, cores, "tpcb", c);

  checks.push(ratioCheck(
    `Orders, binary, ${c} clients, ${s} symbols, 1 request in flight`,
    `>= ${f2(ORDERS_BINARY_VS_TPCB_MIN)} x pgbench TPC-B (${c} clients)`,
    mean(at("orders", "binary", 1), workloadRate),
    "orders/s",
    tpcb,
    "tps",
    ORDERS_BINARY_VS_TPCB_MIN,
  ));

  const textOrders = at("orders", "text", 1);
  checks.push(ratioCheck(
    `Orders, text, ${c} clients, ${s} symbols`,
    `>= ${f2(ORDERS_TEXT_VS_TPCB_MIN)} x pgbench TPC-B (${c} clients)`,
    mean(textOrders, workloadRate),
    "orders/s",
    tpcb,
    "tps",
    ORDERS_TEXT_VS_TPCB_MIN,
  ));
  // The worst repetition, so that one good repetition cannot hide a bad one.
  const textP99 = textOrders.length === 0
    ? undefined
    : Math.max(...textOrders.map((p) => p.latency.p99));
  checks.push({
    name: `Orders, text, ${c} clients, ${s} symbols: p99 latency (worst repetition)`,
    goal: `<= ${P99_MAX_MS} ms`,
    measured: textP99 === undefined ? "not measured" : `${f2(textP99)} ms`,
    pass: textP99 === undefined ? undefined : textP99 <= P99_MAX_MS,
  });

  const h = o.hotClients;
  checks.push(ratioCheck(
    `One hot book: orders, binary, ${h} clients on 1 symbol, 1 in flight`,
    `>= ${f2(HOT_BOOK_VS_TPCB_MIN)} x pgbench TPC-B (${h} clients)`,
    mean(
      pointsOf(r, {
        cores,
        workload: "orders",
        framing: "binary",
        depth: 1,
        clients: h,
        symbols: 1,
      }),
      workloadRate,
    ),
    "orders/s",
    pgbenchTps(r, cores, "tpcb", h),
    "tps",
    HOT_BOOK_VS_TPCB_MIN,
  ));

  checks.push(ratioCheck(
    `Queries, binary, ${c} clients, 1 in flight`,
    `>= ${f2(QUERIES_VS_SELECT_MIN)} x pgbench select-only (${c} clients)`,
    mean(at("queries", "binary", 1), workloadRate),
    "queries/s",
    pgbenchTps(r, cores, "select", c),
    "tps",
    QUERIES_VS_SELECT_MIN,
  ));

  for (const workload of ["orders", "queries", "mix"] as const) {
    const text = mean(at(workload, "text", 1), workloadRate);
    checks.push(ratioCheck(
      `Binary (1 in flight) vs text: ${workload}, ${c} clients`,
      `>= ${f2(BINARY_VS_TEXT_MIN)} x text`,
      mean(at(workload, "binary", 1), workloadRate),
      UNIT[workload],
      text,
      UNIT[workload],
      BINARY_VS_TEXT_MIN,
    ));
  }
  for (const workload of ["orders", "queries", "mix"] as const) {
    checks.push(ratioCheck(
      `Binary pipelined (${o.pipelineDepth} in flight) vs text: ${workload}, ${c} clients`,
      `>= ${f2(PIPELINED_VS_TEXT_MIN)} x text`,
      mean(at(workload, "binary", o.pipelineDepth), workloadRate),
      UNIT[workload],
      mean(at(workload, "text", 1), workloadRate),
      UNIT[workload],
      PIPELINED_VS_TEXT_MIN,
    ));
  }

  const measured = [...r.points, ...(r.steady === undefined ? [] : [r.steady.point])];
  const errors = measured.reduce((sum, p) => sum + p.errors, 0) + (r.deepBook?.errors ?? 0);
  checks.push({
    name: "Errors (every point of the run)",
    goal: "0",
    measured: `${errors} errors, ${measured.reduce((s, p) => s + p.refusals, 0)} expected refusals`,
    pass: measured.length === 0 && r.deepBook === undefined ? undefined : errors === 0,
  });

  const idle = r.idle;
  checks.push({
    name: `Server RSS with ${idle?.held ?? o.idleConnections} idle connections`,
    goal: `<= ${IDLE_RSS_MAX_MB} MB (all ${o.idleConnections} held)`,
    measured: idle === undefined
      ? "not measured"
      : `${f0(idle.rssIdleBytes / 2 ** 20)} MB, ${idle.held} of ${idle.requested} held`,
    pass: idle === undefined || idle.rssIdleBytes === 0
      ? undefined
      : idle.rssIdleBytes <= IDLE_RSS_MAX_MB * 2 ** 20 && idle.held >= idle.requested,
  });

  // Every point that sends orders must report what the issue asks of it; PostgreSQL's CPU only
  // where the bench can read it (an external cluster may serve others too: see bench_database).
  const postgresCpuReadable = r.database?.kind !== "external";
  const withOrders = r.points.filter((p) => p.orders > 0);
  const missing = withOrders.filter((p) =>
    p.batchMean === undefined || p.serverCpuMsPerOrder === undefined ||
    (postgresCpuReadable && p.postgresCpuMsPerOrder === undefined)
  );
  checks.push({
    name: "Per point: mean batch size, server and PostgreSQL CPU per order",
    goal: "reported for every point with orders",
    measured: withOrders.length === 0
      ? "no points with orders"
      : `${withOrders.length - missing.length} of ${withOrders.length} repetitions`,
    pass: withOrders.length === 0 ? undefined : missing.length === 0,
  });
  return checks;
}
