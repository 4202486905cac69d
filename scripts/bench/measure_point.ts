/**
 * One exchange point measured against a running server: the closed-loop load, and around it
 * CPU from /proc and batch sizes from the server's /metrics.
 */
import { type BatchCounters, batchDelta, scrapeBatchCounters } from "./batch_metrics.ts";
import type { Context } from "./context.ts";
import { runLoad } from "./load_runner.ts";
import type { CoreSetting } from "./options.ts";
import { pointLabel, type PointSpec } from "./plan.ts";
import { cpuPercent, rssBytes, sampleCpu } from "./proc_stats.ts";
import type { PointRecord } from "./results.ts";
import type { BenchRequest } from "./workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** What a point measured once per run changes: its length, and hooks on its clock and answers. */
export interface PointHooks {
  durationMs?: number;
  /** Called as the clock starts (after warm-up and the counters' first reading). */
  onStart?: () => void;
  onAnswer?: (request: BenchRequest, sentAt: number, answeredAt: number) => void;
}

/** Measures `spec` (after bringing PostgreSQL to its resting state) and logs one line. */
export async function measurePoint(
  ctx: Context,
  cores: CoreSetting,
  spec: PointSpec,
  repetition: number,
  hooks: PointHooks = {},
): Promise<PointRecord> {
  await ctx.quiesce();
  let before = sampleCpu(ctx.serverPid, ctx.postmaster);
  let batchesBefore: BatchCounters | undefined;
  const load = await runLoad({
    host: ctx.host,
    port: ctx.port,
    framing: spec.framing,
    clients: spec.clients,
    durationMs: hooks.durationMs ?? ctx.options.durationMs,
    workload: spec.workload,
    symbols: ctx.symbols.slice(0, spec.symbols),
    accounts: ctx.accounts,
    sharedAccounts: spec.sharedAccounts,
    immediateShare: ctx.options.immediateShare,
    pipelineDepth: spec.depth,
    seed: repetition * 7919 + spec.clients * 31 + spec.symbols,
    onStart: async () => {
      batchesBefore = await scrapeBatchCounters(ctx.host, ctx.httpPort);
      before = sampleCpu(ctx.serverPid, ctx.postmaster);
      hooks.onStart?.();
    },
    ...(hooks.onAnswer === undefined ? {} : { onAnswer: hooks.onAnswer }),
  });
  const after = sampleCpu(ctx.serverPid, ctx.postmaster);
  const batches = batchDelta(batchesBefore, await scrapeBatchCounters(ctx.host, ctx.httpPort));
  const cpu = cpuPercent(before, after);
  const seconds = load.elapsedMs / 1000;
  const serverCpuSeconds = ctx.serverPid === undefined ? undefined : after.server - before.server;
  const postgresCpuSeconds = ctx.postmaster === undefined
    ? undefined
    : after.postgres - before.postgres;
  const perOrderMs = (cpuSeconds: number | undefined) =>
    cpuSeconds === undefined || load.orders === 0 ? undefined : (1000 * cpuSeconds) / load.orders;
  const record: PointRecord = {
    cores: cores.label,
    framing: spec.framing,
    depth: spec.depth,
    clients: spec.clients,
    symbols: spec.symbols,
    sharedAccounts: spec.sharedAccounts,
    workload: spec.workload,
    repetition,
    elapsedMs: load.elapsedMs,
    requests: load.requests,
    ops: load.ops,
    orders: load.orders,
    queries: load.queries,
    cancels: load.cancels,
    requestsPerS: load.requests / seconds,
    opsPerS: load.ops / seconds,
    ordersPerS: load.orders / seconds,
    queriesPerS: load.queries / seconds,
    errors: load.errors,
    refusals: load.refusals,
    errorMessages: load.errorMessages,
    latency: load.latency,
    serverCpuPct: ctx.serverPid === undefined ? undefined : cpu.server,
    postgresCpuPct: ctx.postmaster === undefined ? undefined : cpu.postgres,
    clientCpuPct: cpu.client,
    serverRssBytes: ctx.serverPid === undefined ? undefined : rssBytes(ctx.serverPid),
    batches: batches?.batches,
    batchMean: batches?.mean,
    serverCpuSeconds,
    postgresCpuSeconds,
    serverCpuMsPerOrder: perOrderMs(serverCpuSeconds),
    postgresCpuMsPerOrder: perOrderMs(postgresCpuSeconds),
  };
  const ms = (x: number | undefined) => x === undefined ? "-" : x.toFixed(2);
  log(
    `cores ${cores.label} ${pointLabel(spec)} #${repetition}: ` +
      `${record.requestsPerS.toFixed(0)} req/s ${record.opsPerS.toFixed(0)} ops/s ` +
      `p99 ${record.latency.p99.toFixed(2)} ms batch ${record.batchMean?.toFixed(1) ?? "-"} ` +
      `CPU ms/order ${ms(record.serverCpuMsPerOrder)} srv ${
        ms(record.postgresCpuMsPerOrder)
      } pg errors ${record.errors}` +
      (record.errors > 0 ? ` (${record.errorMessages[0]})` : ""),
  );
  return record;
}
