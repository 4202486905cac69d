/**
 * Which points one core setting measures, in which order: pure, so that the run's shape can be
 * read (and tested) without starting anything.
 */
import type { BenchOptions, Framing } from "./options.ts";
import type { PgbenchMode } from "./pgbench.ts";
import type { WorkloadKind } from "./workload.ts";

/** One exchange point: what the clients send, how, how many of them, on how many books. */
export interface PointSpec {
  workload: WorkloadKind;
  framing: Framing;
  /** Requests each client keeps in flight: always 1 for text (a connection per request). */
  depth: number;
  clients: number;
  /** Orders go to the first `symbols` of the bench's symbols. */
  symbols: number;
  /**
   * 0: client i trades on its own account. N > 0: every request names one of N accounts shared
   * by all clients, picked at random.
   */
  sharedAccounts: number;
}

/** One step of a repetition: an exchange point, or pgbench beside it at the same client count. */
export type PlanStep =
  | { kind: "exchange"; point: PointSpec }
  | { kind: "pgbench"; mode: PgbenchMode; clients: number };

/** The key two equal points share (the sweep and the targets may ask for the same point). */
export function pointKey(p: PointSpec): string {
  return `${p.workload}|${p.framing}|${p.depth}|${p.clients}|${p.symbols}|${p.sharedAccounts}`;
}

/**
 * Whether a point's clients each trade on their own account. Records written before the
 * shared-accounts point existed have no `sharedAccounts`: they did.
 */
export function onOwnAccounts(p: { sharedAccounts?: number }): boolean {
  return (p.sharedAccounts ?? 0) === 0;
}

/**
 * The steps of one repetition. The sweep (`clients`: orders, one request in flight, on 1 and
 * on `symbols` symbols, every client count) feeds the throughput chart; on the target setting
 * the target points follow (`targets`: orders, queries and mix at `targetClients` in text,
 * binary one in flight and binary pipelined; the hot book at `hotClients` on one symbol), and
 * the shared-accounts point (`targetClients` on `symbols` symbols, binary, one in flight, each
 * order on one of `sharedAccounts` accounts). Steps are grouped by client count, pgbench last
 * in each group, so that every ratio compares measurements taken minutes apart at most. The
 * points measured once per run (steady, deep book, idle connections) are not steps.
 */
export function planRepetition(o: BenchOptions, isTargetSetting: boolean): PlanStep[] {
  const points: PointSpec[] = [];
  const tpcb = new Set<number>();
  const select = new Set<number>();
  const symbolCounts = [...new Set([1, o.symbols])];
  const own = { sharedAccounts: 0 };
  if (o.points.includes("clients")) {
    for (const clients of o.clients) {
      for (const symbols of symbolCounts) {
        for (const framing of o.framings) {
          points.push({ workload: "orders", framing, depth: 1, clients, symbols, ...own });
        }
      }
      tpcb.add(clients);
    }
  }
  const c = o.targetClients;
  if (isTargetSetting && o.points.includes("targets")) {
    for (const workload of ["orders", "queries", "mix"] as const) {
      points.push({ workload, framing: "text", depth: 1, clients: c, symbols: o.symbols, ...own });
      points.push({
        workload,
        framing: "binary",
        depth: 1,
        clients: c,
        symbols: o.symbols,
        ...own,
      });
      points.push({
        workload,
        framing: "binary",
        depth: o.pipelineDepth,
        clients: c,
        symbols: o.symbols,
        ...own,
      });
    }
    tpcb.add(c);
    select.add(c);
    points.push({
      workload: "orders",
      framing: "binary",
      depth: 1,
      clients: o.hotClients,
      symbols: 1,
      ...own,
    });
    tpcb.add(o.hotClients);
  }
  if (isTargetSetting && o.points.includes("shared-accounts")) {
    points.push({
      workload: "orders",
      framing: "binary",
      depth: 1,
      clients: c,
      symbols: o.symbols,
      sharedAccounts: o.sharedAccounts,
    });
    tpcb.add(c);
  }

  const unique = new Map<string, PointSpec>();
  for (const p of points) {
    unique.set(pointKey(p), p);
  }
  const clientCounts = [
    ...new Set([...[...unique.values()].map((p) => p.clients), ...tpcb, ...select]),
  ].sort((a, b) => a - b);
  const steps: PlanStep[] = [];
  for (const clients of clientCounts) {
    for (const point of unique.values()) {
      if (point.clients === clients) {
        steps.push({ kind: "exchange", point });
      }
    }
    if (tpcb.has(clients)) {
      steps.push({ kind: "pgbench", mode: "tpcb", clients });
    }
    if (select.has(clients)) {
      steps.push({ kind: "pgbench", mode: "select", clients });
    }
  }
  return steps;
}

/** The largest client count any step uses (accounts and pgbench's scale follow it). */
export function largestClientCount(o: BenchOptions): number {
  return Math.max(...o.clients, o.targetClients, o.hotClients);
}

/** How the log and the report name a point, e.g. `orders binary x1 16 clients 4 symbols`. */
export function pointLabel(p: PointSpec): string {
  return `${p.workload} ${p.framing}${p.framing === "binary" ? ` x${p.depth}` : ""} ` +
    `${p.clients} clients ${p.symbols} symbol${p.symbols === 1 ? "" : "s"}` +
    (onOwnAccounts(p) ? "" : ` ${p.sharedAccounts} shared accounts`);
}
