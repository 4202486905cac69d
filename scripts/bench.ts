/**
 * `deno task bench`: starts the exchange server (or targets a running one) and measures, with
 * closed-loop clients, the points of scripts/bench/plan.ts: orders against client count on one
 * book and on several, and the target points of issue 10 (each workload in text framing, binary
 * with one request in flight and binary pipelined; one hot book). pgbench runs beside them on the
 * same PostgreSQL as the yardstick; the server's /metrics gives each point's mean batch size and
 * /proc its CPU per order. Then memory with many idle connections, and REPORT.md, results.json
 * and SVG charts. See `deno task bench --help`.
 */
import postgres from "postgres";
import { BinaryClient } from "../src/client/exchange_client.ts";
import { embeddedTarget } from "../src/db/embedded_target.ts";
import { type BatchCounters, batchDelta, scrapeBatchCounters } from "./bench/batch_metrics.ts";
import { writeCharts } from "./bench/charts.ts";
import { measureIdleConnections } from "./bench/idle_connections.ts";
import { runLoad } from "./bench/load_runner.ts";
import { machineInfo } from "./bench/machine_info.ts";
import {
  type BenchOptions,
  type CoreSetting,
  parseBenchOptions,
  USAGE,
  UsageError,
} from "./bench/options.ts";
import {
  pgbenchInit,
  type PgbenchMode,
  pgbenchRun,
  pgbenchVersion,
  type PgTarget,
} from "./bench/pgbench.ts";
import {
  awaitBackendsReaped,
  cpuPercent,
  postgresChildPids,
  postgresSocketDir,
  postmasterPid,
  rssBytes,
  sampleCpu,
} from "./bench/proc_stats.ts";
import { largestClientCount, planRepetition, pointLabel, type PointSpec } from "./bench/plan.ts";
import { renderReport } from "./bench/report.ts";
import type { PointRecord, RunResults } from "./bench/results.ts";
import { freePort, type ServerProcess, startServer } from "./bench/server_process.ts";
import { checkTargets } from "./bench/targets.ts";
import { setupRequest, symbolNames } from "./bench/workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** How long to wait for pgbench's backends to be reaped before PostgreSQL's CPU is read. */
const BACKENDS_REAPED_TIMEOUT_MS = 3_000;

/** What the points of one server share. */
interface Context {
  options: BenchOptions;
  results: RunResults;
  host: string;
  port: number;
  /** The server's HTTP side port, for /metrics (undefined: batch sizes not measured). */
  httpPort: number | undefined;
  serverPid: number | undefined;
  postmaster: number | undefined;
  accounts: string[];
  symbols: string[];
  pg: PgTarget | undefined;
  /** Brings PostgreSQL to the same state before every point (a no-op for an external server). */
  quiesce: () => Promise<void>;
}

/** Creates the bench's accounts and symbols through the protocol itself. */
async function setup(ctx: Context): Promise<void> {
  const client = await BinaryClient.connect(ctx.port, ctx.host);
  try {
    const answer = await client.request(setupRequest(ctx.accounts, ctx.symbols));
    if (answer.includes("<error")) {
      throw new Error(`setup refused: ${answer.slice(0, 500)}`);
    }
  } finally {
    client.close();
    await client.closed();
  }
}

async function measurePoint(
  ctx: Context,
  cores: CoreSetting,
  spec: PointSpec,
  repetition: number,
): Promise<PointRecord> {
  await ctx.quiesce();
  let before = sampleCpu(ctx.serverPid, ctx.postmaster);
  let batchesBefore: BatchCounters | undefined;
  const load = await runLoad({
    host: ctx.host,
    port: ctx.port,
    framing: spec.framing,
    clients: spec.clients,
    durationMs: ctx.options.durationMs,
    workload: spec.workload,
    symbols: ctx.symbols.slice(0, spec.symbols),
    accounts: ctx.accounts,
    pipelineDepth: spec.depth,
    seed: repetition * 7919 + spec.clients * 31 + spec.symbols,
    onStart: async () => {
      batchesBefore = await scrapeBatchCounters(ctx.host, ctx.httpPort);
      before = sampleCpu(ctx.serverPid, ctx.postmaster);
    },
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
  ctx.results.points.push(record);
  return record;
}

async function measurePgbench(
  ctx: Context,
  cores: CoreSetting,
  mode: PgbenchMode,
  clients: number,
  repetition: number,
) {
  if (ctx.pg === undefined) {
    return;
  }
  const seconds = Math.max(1, Math.ceil(ctx.options.durationMs / 1000));
  await ctx.quiesce();
  const children = ctx.postmaster === undefined
    ? new Set<number>()
    : postgresChildPids(ctx.postmaster);
  const before = sampleCpu(undefined, ctx.postmaster);
  const run = await pgbenchRun(ctx.pg, {
    mode,
    clients,
    seconds,
    threads: navigator.hardwareConcurrency,
  });
  const ran = sampleCpu(undefined, ctx.postmaster);
  // pgbench's backends are still exiting: their CPU counts once the postmaster has reaped them.
  if (ctx.postmaster !== undefined) {
    await awaitBackendsReaped(ctx.postmaster, children, BACKENDS_REAPED_TIMEOUT_MS);
  }
  const after = { ...sampleCpu(undefined, ctx.postmaster), atMs: ran.atMs };
  const cpu = cpuPercent(before, after);
  // pgbench's own connection set-up falls inside the window; it is small beside -T seconds.
  const transactions = run.tps * seconds;
  ctx.results.pgbench.push({
    cores: cores.label,
    mode,
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
  });
  log(
    `cores ${cores.label} pgbench ${mode} ${clients} clients #${repetition}: ${
      run.tps.toFixed(0)
    } tps`,
  );
}

/**
 * Every point of one core setting (see planRepetition), repetition by repetition; then, on
 * the target setting, the memory with idle connections.
 */
async function sweep(ctx: Context, cores: CoreSetting, isTargetSetting: boolean): Promise<void> {
  const o = ctx.options;
  const steps = planRepetition(o, isTargetSetting);
  // Repetitions are the outer loop so slow drift (caches, table growth) spreads over all points.
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const step of steps) {
      if (step.kind === "exchange") {
        await measurePoint(ctx, cores, step.point, rep);
      } else {
        await measurePgbench(ctx, cores, step.mode, step.clients, rep);
      }
    }
  }
  if (!isTargetSetting) {
    return;
  }
  if (o.idleConnections > 0 && ctx.serverPid !== undefined) {
    log(`holding ${o.idleConnections} idle connections`);
    ctx.results.idle = await measureIdleConnections({
      host: ctx.host,
      port: ctx.port,
      serverPid: ctx.serverPid,
      count: o.idleConnections,
    });
    log(
      `RSS with ${ctx.results.idle.held} idle connections: ${
        (ctx.results.idle.rssIdleBytes / 2 ** 20).toFixed(0)
      } MB`,
    );
  }
}

/** Runs the whole bench; returns the results (also written to `options.outDir`). */
export async function runBench(options: BenchOptions): Promise<RunResults> {
  const startedAt = new Date();
  await Deno.mkdir(options.outDir, { recursive: true });
  const pgbench = options.noPgbench ? undefined : await pgbenchVersion();
  const results: RunResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    totalSeconds: 0,
    options,
    machine: await machineInfo({ pgbench, pg: undefined }),
    serverBanner: "",
    pgbenchScale: undefined,
    pgbenchInitSeconds: undefined,
    points: [],
    pgbench: [],
    idle: undefined,
    notes: [],
  };
  if (options.external !== undefined) {
    results.notes.push(
      "Targeted a running server: no pgbench; CPU and memory only with --server-pid.",
    );
  } else if (pgbench === undefined) {
    results.notes.push(
      options.noPgbench
        ? "pgbench skipped (--no-pgbench): no ratios."
        : "pgbench is not installed: no ratios to pgbench.",
    );
  }
  const tag = String(Date.now() % 1_000_000_000);
  const accountCount = largestClientCount(options);
  const base: Omit<
    Context,
    "host" | "port" | "httpPort" | "serverPid" | "postmaster" | "pg" | "quiesce"
  > = {
    options,
    results,
    accounts: Array.from({ length: accountCount }, (_, i) => `${tag}${String(i).padStart(4, "0")}`),
    symbols: symbolNames(options.symbols),
  };
  const targetLabel = options.cores.find((c) => c.label.startsWith("all")) ?? options.cores.at(-1);

  if (options.external !== undefined) {
    const { host, port, serverPid, httpPort } = options.external;
    const ctx: Context = {
      ...base,
      host,
      port,
      httpPort,
      serverPid,
      postmaster: undefined,
      pg: undefined,
      quiesce: () => Promise.resolve(),
    };
    results.serverBanner = `external server at ${host}:${port}`;
    await setup(ctx);
    await sweep(ctx, options.cores[0]!, true);
  } else {
    // Short path: the PostgreSQL socket must fit in 107 bytes. Shared by every core setting,
    // so pgbench's tables are built once; the exchange's schema is reset at each start.
    const dataDir = await Deno.makeTempDir({ prefix: "exchange-bench-" });
    let current: ServerProcess | undefined;
    const onSignal = () => {
      log("interrupted: stopping the server");
      (current?.stop() ?? Promise.resolve()).finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      for (const cores of options.cores) {
        log(`starting server (cores ${cores.label})`);
        current = await startServer({
          port: freePort(),
          httpPort: freePort(),
          dataDir,
          cpuList: cores.cpuList,
          extraArgs: options.serverArgs,
        });
        // The running cluster's socket, as the server itself reaches it (relocated or not).
        const target = postgresSocketDir(dataDir) === undefined
          ? undefined
          : embeddedTarget(dataDir);
        const admin = target === undefined ? undefined : postgres({
          host: target.socketDir,
          path: `${target.socketDir}/.s.PGSQL.${target.port}`,
          port: target.port,
          username: target.user,
          database: target.database,
          max: 1,
          onnotice: () => {},
        });
        try {
          results.serverBanner = current.banner;
          const postmaster = postmasterPid(dataDir);
          const ctx: Context = {
            ...base,
            host: "127.0.0.1",
            port: current.port,
            httpPort: current.httpPort,
            serverPid: current.pid,
            postmaster,
            pg: pgbench === undefined || target === undefined ? undefined : target,
            // Every point starts from a checkpointed PostgreSQL, so that no point pays for the
            // dirty pages (and the full-page writes after the next checkpoint) left by the one
            // before; pgbench at scale 64 leaves the most.
            quiesce: async () => {
              await admin?.unsafe("CHECKPOINT");
            },
          };
          if (postmaster === undefined) {
            results.notes.push("PostgreSQL's pid was not found: no PostgreSQL CPU figures.");
          }
          if (results.machine.postgres === "unknown") {
            results.machine = await machineInfo({ pgbench, pg: target });
          }
          await setup(ctx);
          if (ctx.pg !== undefined && results.pgbenchScale === undefined) {
            // TPC-B contends on branch rows: scale (branches) at least the largest client count.
            const scale = largestClientCount(options);
            log(`pgbench -i -s ${scale}`);
            results.pgbenchInitSeconds = await pgbenchInit(ctx.pg, scale);
            results.pgbenchScale = scale;
          }
          await sweep(ctx, cores, cores === targetLabel);
        } finally {
          await admin?.end();
          await current.stop();
          current = undefined;
        }
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }

  const finished = new Date();
  results.finishedAt = finished.toISOString();
  results.totalSeconds = (finished.getTime() - startedAt.getTime()) / 1000;
  await Deno.writeTextFile(`${options.outDir}/results.json`, JSON.stringify(results, null, 2));
  const charts = await writeCharts(results, options.outDir);
  await Deno.writeTextFile(`${options.outDir}/REPORT.md`, renderReport(results, charts));
  return results;
}

async function main(): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = parseBenchOptions(Deno.args, navigator.hardwareConcurrency);
  } catch (error) {
    if (error instanceof UsageError || error instanceof TypeError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  const results = await runBench(options);
  console.log(`wrote ${options.outDir}/REPORT.md (${results.totalSeconds.toFixed(0)} s)`);
  for (const t of checkTargets(results)) {
    console.log(
      `${
        t.pass === undefined ? "n/a " : t.pass ? "PASS" : "FAIL"
      }  ${t.name}: ${t.measured} (goal ${t.goal})`,
    );
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
