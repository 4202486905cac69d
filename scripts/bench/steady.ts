/**
 * The steady point: binary orders, one request in flight, `--target-clients` clients over
 * `--symbols` symbols for `--steady-ms` (a minute), its rate reported in slices of
 * `--steady-slice-ms`, then pgbench TPC-B as long with as many clients and the same slices
 * (`-P`). On a PostgreSQL with default settings the exchange's rate fell by half within a
 * minute (MEASUREMENTS.md: dead rows in `orders` before autovacuum's first pass); pgbench beside
 * it tells that decline from the cluster's own.
 */
import type { Context } from "./context.ts";
import { measurePoint } from "./measure_point.ts";
import { runPgbenchWarm } from "./measure_pgbench.ts";
import type { CoreSetting } from "./options.ts";
import type { PointSpec } from "./plan.ts";
import type { SteadyPgbench, SteadyRecord } from "./results.ts";
import { lastOverFirst, SliceCounter } from "./slices.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** Measures the steady point and pgbench beside it on the running server. */
export async function measureSteady(ctx: Context, cores: CoreSetting): Promise<SteadyRecord> {
  const o = ctx.options;
  const spec: PointSpec = {
    workload: "orders",
    framing: "binary",
    depth: 1,
    clients: o.targetClients,
    symbols: o.symbols,
    sharedAccounts: 0,
  };
  log(`steady point: ${o.steadyMs} ms in slices of ${o.steadySliceMs} ms`);
  let counter: SliceCounter | undefined;
  let lastAnswerAt = 0;
  const point = await measurePoint(ctx, cores, spec, 1, {
    durationMs: o.steadyMs,
    onStart: () => {
      counter = new SliceCounter(performance.now(), o.steadySliceMs, o.steadyMs);
    },
    onAnswer: (request, sentAt, answeredAt) => {
      const orders = request.ops.filter((op) => op === "order").length;
      counter?.add(answeredAt, answeredAt - sentAt, orders);
      lastAnswerAt = Math.max(lastAnswerAt, answeredAt);
    },
  });
  const slices = counter?.slices(lastAnswerAt) ?? [];
  const rates = slices.map((s) => s.ordersPerS);
  log(`steady slices, orders/s: ${rates.map((r) => r.toFixed(0)).join(", ")}`);

  // Whole seconds both (options.ts checks). pgbench runs one second more and only its first
  // slices are kept: its last progress line was missing at times on a busy machine, written or
  // not depending on whether the run ended before the interval's timer fired.
  const seconds = o.steadyMs / 1000;
  const measured = await runPgbenchWarm(
    ctx,
    "tpcb",
    o.targetClients,
    seconds + 1,
    o.steadySliceMs / 1000,
  );
  let pgbench: SteadyPgbench | undefined;
  if (measured !== undefined) {
    const kept = measured.run.progress.slice(0, slices.length);
    pgbench = {
      clients: o.targetClients,
      seconds,
      tps: kept.reduce((sum, tps) => sum + tps, 0) / Math.max(1, kept.length),
      slices: kept,
      lastOverFirst: lastOverFirst(kept),
    };
    log(`steady pgbench TPC-B slices, tps: ${pgbench.slices.map((t) => t.toFixed(0)).join(", ")}`);
  }
  return {
    point,
    sliceMs: o.steadySliceMs,
    slices,
    lastOverFirst: lastOverFirst(rates),
    pgbench,
  };
}
