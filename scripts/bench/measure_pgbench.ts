/**
 * One pgbench point on the server's PostgreSQL: after the same CHECKPOINT as every exchange
 * point, an unmeasured warm-up of as many transactions per client as the exchange's clients send
 * before their clock starts, then the measured run with PostgreSQL's CPU read around it.
 */
import type { Context } from "./context.ts";
import type { CoreSetting } from "./options.ts";
import {
  PGBENCH_PROTOCOL,
  type PgbenchLength,
  type PgbenchMode,
  type PgbenchResult,
  pgbenchRun,
} from "./pgbench.ts";
import {
  awaitBackendsReaped,
  cpuPercent,
  type CpuSample,
  postgresChildPids,
  sampleCpu,
} from "./proc_stats.ts";
import type { PgbenchRecord } from "./results.ts";
import { WARMUP_REQUESTS } from "./workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** How long to wait for pgbench's backends to be reaped before PostgreSQL's CPU is read. */
const BACKENDS_REAPED_TIMEOUT_MS = 3_000;

/** A measured pgbench run and PostgreSQL's CPU over it. */
export interface MeasuredPgbench {
  run: PgbenchResult;
  seconds: number;
  before: CpuSample;
  after: CpuSample;
}

/**
 * Warms up, then runs pgbench for `seconds` (whole seconds: `-T`), reading PostgreSQL's CPU
 * around the measured run only. Undefined without pgbench.
 */
export async function runPgbenchWarm(
  ctx: Context,
  mode: PgbenchMode,
  clients: number,
  seconds: number,
  progressSeconds?: number,
): Promise<MeasuredPgbench | undefined> {
  if (ctx.pg === undefined) {
    return undefined;
  }
  await ctx.quiesce();
  const threads = navigator.hardwareConcurrency;
  const pgbench = async (length: PgbenchLength, progress?: number) =>
    await pgbenchRun(ctx.pg!, {
      mode,
      clients,
      length,
      threads,
      ...(progress === undefined ? {} : { progressSeconds: progress }),
    });
  const reaped = async (children: Set<number>) => {
    // pgbench's backends are still exiting: their CPU counts once the postmaster has reaped them.
    if (ctx.postmaster !== undefined) {
      await awaitBackendsReaped(ctx.postmaster, children, BACKENDS_REAPED_TIMEOUT_MS);
    }
  };
  const childrenNow = () =>
    ctx.postmaster === undefined ? new Set<number>() : postgresChildPids(ctx.postmaster);

  const beforeWarmup = childrenNow();
  await pgbench({ transactionsPerClient: WARMUP_REQUESTS });
  // The warm-up's backends must be gone before the first reading, or their CPU would count.
  await reaped(beforeWarmup);
  const children = childrenNow();
  const before = sampleCpu(undefined, ctx.postmaster);
  const run = await pgbench({ seconds }, progressSeconds);
  const ran = sampleCpu(undefined, ctx.postmaster);
  await reaped(children);
  const after = { ...sampleCpu(undefined, ctx.postmaster), atMs: ran.atMs };
  return { run, seconds, before, after };
}

/** A pgbench point of the repetitions (`-T` the points' duration); recorded in the results. */
export async function measurePgbench(
  ctx: Context,
  cores: CoreSetting,
  mode: PgbenchMode,
  clients: number,
  repetition: number,
): Promise<void> {
  const seconds = Math.max(1, Math.ceil(ctx.options.durationMs / 1000));
  const measured = await runPgbenchWarm(ctx, mode, clients, seconds);
  if (measured === undefined) {
    return;
  }
  const { run, before, after } = measured;
  const cpu = cpuPercent(before, after);
  // pgbench's own connection set-up falls inside the window; it is small beside -T seconds.
  const transactions = run.tps * seconds;
  const record: PgbenchRecord = {
    cores: cores.label,
    mode,
    protocol: PGBENCH_PROTOCOL,
    warmupTransactionsPerClient: WARMUP_REQUESTS,
    clients,
    repetition,
    seconds,
    tps: run.tps,
    latencyAvgMs: run.latencyAvgMs,
    failed: run.failed,
    postgresCpuPct: ctx.postmaster === undefined ? undefined : cpu.postgres,
    postgresCpuMsPerTx: ctx.postmaster === undefined || transactions === 0
      ? undefined
      : (1000 * (after.postgres - before.postgres)) / transactions,
  };
  ctx.results.pgbench.push(record);
  log(
    `cores ${cores.label} pgbench ${mode} -M ${PGBENCH_PROTOCOL} ${clients} clients ` +
      `#${repetition}: ${run.tps.toFixed(0)} tps`,
  );
}
