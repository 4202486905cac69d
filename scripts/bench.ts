/**
 * `deno task bench`: starts the exchange server (or targets a running one), sweeps client
 * counts, framings and CPU cores with closed-loop clients, runs pgbench on the same PostgreSQL
 * as the yardstick, measures memory with many idle connections, and writes REPORT.md,
 * results.json and SVG charts. See `deno task bench --help`.
 */
import postgres from "postgres";
import { BinaryClient } from "../src/client/exchange_client.ts";
import { writeCharts } from "./bench/charts.ts";
import { measureIdleConnections } from "./bench/idle_connections.ts";
import { runLoad } from "./bench/load_runner.ts";
import { machineInfo } from "./bench/machine_info.ts";
import {
  type BenchOptions,
  type CoreSetting,
  type Framing,
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
  cpuPercent,
  postgresSocketDir,
  postmasterPid,
  rssBytes,
  sampleCpu,
} from "./bench/proc_stats.ts";
import { renderReport } from "./bench/report.ts";
import type { PointRecord, RunResults } from "./bench/results.ts";
import { freePort, type ServerProcess, startServer } from "./bench/server_process.ts";
import { checkTargets } from "./bench/targets.ts";
import { setupRequest, symbolNames, type WorkloadKind } from "./bench/workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** What the points of one server share. */
interface Context {
  options: BenchOptions;
  results: RunResults;
  host: string;
  port: number;
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
  framing: Framing,
  clients: number,
  workload: WorkloadKind,
  repetition: number,
): Promise<PointRecord> {
  await ctx.quiesce();
  let before = sampleCpu(ctx.serverPid, ctx.postmaster);
  const load = await runLoad({
    host: ctx.host,
    port: ctx.port,
    framing,
    clients,
    durationMs: ctx.options.durationMs,
    workload,
    symbols: ctx.symbols,
    accounts: ctx.accounts,
    pipelineDepth: ctx.options.pipelineDepth,
    seed: repetition * 7919 + clients,
    onStart: () => {
      before = sampleCpu(ctx.serverPid, ctx.postmaster);
    },
  });
  const cpu = cpuPercent(before, sampleCpu(ctx.serverPid, ctx.postmaster));
  const seconds = load.elapsedMs / 1000;
  const record: PointRecord = {
    cores: cores.label,
    framing,
    clients,
    workload,
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
  };
  log(
    `cores ${cores.label} ${workload} ${framing} ${clients} clients #${repetition}: ` +
      `${record.requestsPerS.toFixed(0)} req/s ${record.opsPerS.toFixed(0)} ops/s ` +
      `p99 ${record.latency.p99.toFixed(2)} ms errors ${record.errors}` +
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
  const before = sampleCpu(undefined, ctx.postmaster);
  const run = await pgbenchRun(ctx.pg, {
    mode,
    clients,
    seconds,
    threads: navigator.hardwareConcurrency,
  });
  const cpu = cpuPercent(before, sampleCpu(undefined, ctx.postmaster));
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
  });
  log(
    `cores ${cores.label} pgbench ${mode} ${clients} clients #${repetition}: ${
      run.tps.toFixed(0)
    } tps`,
  );
}

/** Every point of one core setting: the sweep, then (on the target setting) the target checks. */
async function sweep(ctx: Context, cores: CoreSetting, isTargetSetting: boolean): Promise<void> {
  const o = ctx.options;
  // Repetitions are the outer loop so slow drift (caches, table growth) spreads over all points.
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const clients of o.clients) {
      for (const framing of o.framings) {
        await measurePoint(ctx, cores, framing, clients, "mix", rep);
      }
      await measurePgbench(ctx, cores, "tpcb", clients, rep);
      await measurePgbench(ctx, cores, "select", clients, rep);
    }
  }
  if (!isTargetSetting) {
    return;
  }
  const c = o.targetClients;
  for (let rep = 1; rep <= o.repetitions; rep++) {
    await measurePoint(ctx, cores, "text", c, "orders", rep);
    await measurePoint(ctx, cores, "text", c, "queries", rep);
    // pgbench -S keeps its connections, so persistent (binary) connections are the like-for-like
    // comparison for queries; text framing pays a TCP connection per query on top.
    await measurePoint(ctx, cores, "binary", c, "queries", rep);
    if (!o.clients.includes(c)) {
      await measurePgbench(ctx, cores, "tpcb", c, rep);
      await measurePgbench(ctx, cores, "select", c, rep);
    }
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
    machine: await machineInfo({ pgbench, pgSocketDir: undefined }),
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
  const accountCount = Math.max(...options.clients, options.targetClients);
  const base: Omit<Context, "host" | "port" | "serverPid" | "postmaster" | "pg" | "quiesce"> = {
    options,
    results,
    accounts: Array.from({ length: accountCount }, (_, i) => `${tag}${String(i).padStart(4, "0")}`),
    symbols: symbolNames(options.symbols),
  };
  const targetLabel = options.cores.find((c) => c.label.startsWith("all")) ?? options.cores.at(-1);

  if (options.external !== undefined) {
    const { host, port, serverPid } = options.external;
    const ctx: Context = {
      ...base,
      host,
      port,
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
          dataDir,
          cpuList: cores.cpuList,
          extraArgs: options.serverArgs,
        });
        const socketDir = postgresSocketDir(dataDir);
        const admin = socketDir === undefined ? undefined : postgres({
          host: socketDir,
          path: `${socketDir}/.s.PGSQL.5432`,
          port: 5432,
          username: "postgres",
          database: "exchange",
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
            serverPid: current.pid,
            postmaster,
            pg: pgbench === undefined || socketDir === undefined
              ? undefined
              : { socketDir, port: 5432, user: "postgres", database: "exchange" },
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
            results.machine = await machineInfo({ pgbench, pgSocketDir: socketDir });
          }
          await setup(ctx);
          if (ctx.pg !== undefined && results.pgbenchScale === undefined) {
            // TPC-B contends on branch rows: scale (branches) at least the largest client count.
            const scale = Math.max(...options.clients, options.targetClients);
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
