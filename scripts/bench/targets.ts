/** The performance targets, checked against one run's measurements. */
import { spread } from "./latency_stats.ts";
import type { PgbenchMode } from "./pgbench.ts";
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

const IDLE_RSS_MAX_MB = 200;
const P99_MAX_MS = 25;

/** The core setting the targets refer to: "all cores" if swept, else the last one. */
export function targetCores(results: RunResults): string | undefined {
  const labels = results.options.cores.map((c) => c.label);
  return labels.find((l) => l.startsWith("all")) ?? labels.at(-1);
}

function points(
  r: RunResults,
  cores: string | undefined,
  framing: Framing,
  workload: WorkloadKind,
  clients: number,
) {
  return r.points.filter((p) =>
    p.cores === cores && p.framing === framing && p.workload === workload && p.clients === clients
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

/** The highest p99 among `records`, or undefined when there are none. */
function worstP99Of(records: PointRecord[]): number | undefined {
  return records.length === 0 ? undefined : Math.max(...records.map((p) => p.latency.p99));
}

const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

/** Checks every target of issue 6. */
export function checkTargets(r: RunResults): TargetCheck[] {
  const cores = targetCores(r);
  const c = r.options.targetClients;
  const checks: TargetCheck[] = [];

  const orders = mean(points(r, cores, "text", "orders", c), (p) => p.ordersPerS);
  const tpcb = pgbenchTps(r, cores, "tpcb", c);
  checks.push({
    name: `Order throughput (text, ${c} clients, ${r.options.symbols} symbols)`,
    goal: ">= 0.8 x pgbench TPC-B tps",
    measured: orders === undefined || tpcb === undefined
      ? "not measured"
      : `${f0(orders)} orders/s vs ${f0(tpcb)} tps = ${f2(orders / tpcb)} x`,
    pass: orders === undefined || tpcb === undefined ? undefined : orders >= 0.8 * tpcb,
  });

  // pgbench -S keeps its connections open, so the target compares persistent (binary)
  // connections; text framing, one TCP connection per query, is reported beside it.
  const select = pgbenchTps(r, cores, "select", c);
  for (const framing of ["binary", "text"] as const) {
    const queries = mean(points(r, cores, framing, "queries", c), (p) => p.queriesPerS);
    checks.push({
      name: `Query throughput (${framing}, ${c} clients)` +
        (framing === "text" ? ", for information" : ""),
      goal: ">= 0.3 x pgbench select-only tps",
      measured: queries === undefined || select === undefined
        ? "not measured"
        : `${f0(queries)} queries/s vs ${f0(select)} tps = ${f2(queries / select)} x`,
      pass: queries === undefined || select === undefined || framing === "text"
        ? undefined
        : queries >= 0.3 * select,
    });
  }

  const text = mean(points(r, cores, "text", "mix", c), (p) => p.opsPerS);
  const binary = mean(points(r, cores, "binary", "mix", c), (p) => p.opsPerS);
  checks.push({
    name: `Binary pipelined vs text (mix, ${c} clients)`,
    goal: ">= 1.5 x text throughput",
    measured: text === undefined || binary === undefined
      ? "not measured"
      : `${f0(binary)} vs ${f0(text)} ops/s = ${f2(binary / text)} x`,
    pass: text === undefined || binary === undefined ? undefined : binary >= 1.5 * text,
  });

  const at = r.points.filter((p) => p.cores === cores && p.clients === c);
  const worstP99 = worstP99Of(at);
  checks.push({
    name: `p99 latency at ${c} clients (worst point, any framing/workload)`,
    goal: `<= ${P99_MAX_MS} ms`,
    measured: worstP99 === undefined ? "not measured" : `${f2(worstP99)} ms`,
    pass: worstP99 === undefined ? undefined : worstP99 <= P99_MAX_MS,
  });
  // Pipelined binary clients keep several requests each in flight, so by Little's law their
  // latency is that many times the wait of one; the text points have one per client.
  const worstTextP99 = worstP99Of(at.filter((p) => p.framing === "text"));
  checks.push({
    name: `p99 latency at ${c} clients, one request in flight each (worst text point), ` +
      "for information",
    goal: `<= ${P99_MAX_MS} ms`,
    measured: worstTextP99 === undefined ? "not measured" : `${f2(worstTextP99)} ms`,
    pass: undefined,
  });

  const errors = r.points.reduce((sum, p) => sum + p.errors, 0);
  checks.push({
    name: "Errors (whole run)",
    goal: "0",
    measured: `${errors} errors, ${r.points.reduce((s, p) => s + p.refusals, 0)} expected refusals`,
    pass: r.points.length === 0 ? undefined : errors === 0,
  });

  const idle = r.idle;
  checks.push({
    name: `Server RSS with ${idle?.held ?? r.options.idleConnections} idle connections`,
    goal: `<= ${IDLE_RSS_MAX_MB} MB`,
    measured: idle === undefined ? "not measured" : `${f0(idle.rssIdleBytes / 2 ** 20)} MB`,
    pass: idle === undefined || idle.rssIdleBytes === 0
      ? undefined
      : idle.rssIdleBytes <= IDLE_RSS_MAX_MB * 2 ** 20 && idle.held >= idle.requested,
  });
  return checks;
}
