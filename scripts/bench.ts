/**
 * `deno task bench`: starts the exchange server (or targets a running one) and measures, with
 * closed-loop clients, the points of scripts/bench/plan.ts: orders against client count on one
 * book and on several, the target points (each workload in text framing, binary with one
 * request in flight and binary pipelined; one hot book) and orders on shared accounts.
 * pgbench (prepared statements, warmed up like the exchange's clients) runs beside them on the
 * same PostgreSQL as the yardstick; the server's /metrics gives each point's mean batch size
 * and /proc its CPU per order. Once per run: the steady point (a minute in slices), the deep
 * book (one buy sweeping many resting sells while another book trades) and memory with many
 * idle connections. PostgreSQL is the embedded cluster or, with `--database-url`, fresh
 * databases on the operator's. Then REPORT.md (with issue 19's targets checked: see
 * bench/targets.ts), results.json and SVG charts. See `--help`.
 */
import {
  type BenchDatabase,
  embeddedDatabase,
  externalDatabase,
  redactPasswords,
} from "./bench/bench_database.ts";
import { writeCharts } from "./bench/charts.ts";
import type { Context } from "./bench/context.ts";
import { createOrThrow } from "./bench/create_request.ts";
import { measureDeepBook } from "./bench/deep_book.ts";
import { measureIdleConnections } from "./bench/idle_connections.ts";
import { loadAverage, machineInfo } from "./bench/machine_info.ts";
import { measurePgbench } from "./bench/measure_pgbench.ts";
import { measurePoint } from "./bench/measure_point.ts";
import {
  type BenchOptions,
  type CoreSetting,
  parseBenchOptions,
  USAGE,
  UsageError,
} from "./bench/options.ts";
import { pgbenchInit, pgbenchVersion } from "./bench/pgbench.ts";
import { largestClientCount, planRepetition } from "./bench/plan.ts";
import { readProvenance } from "./bench/provenance.ts";
import { renderReport } from "./bench/report.ts";
import type { RunResults } from "./bench/results.ts";
import { freePort, REPO_ROOT, type ServerProcess, startServer } from "./bench/server_process.ts";
import { benchServerArgs } from "./bench/server_flags.ts";
import { measureSteady } from "./bench/steady.ts";
import { checkTargets } from "./bench/targets.ts";
import { setupRequest, symbolNames } from "./bench/workload.ts";

const log = (line: string) => console.error(`[bench] ${line}`);

/** The parts of a run that run pgbench (and so need its tables). */
const PGBENCH_GROUPS = ["clients", "targets", "shared-accounts", "steady"];

/**
 * Every point of one core setting: on the target setting the steady point first (on a freshly
 * reset exchange, so that its minute starts from empty tables), then the repetitions (see
 * planRepetition), then memory with idle connections, and last the deep book (its resting
 * orders would otherwise weigh on every later point).
 */
async function measureSetting(
  ctx: Context,
  cores: CoreSetting,
  isTargetSetting: boolean,
): Promise<void> {
  const o = ctx.options;
  if (isTargetSetting && o.points.includes("steady")) {
    ctx.results.steady = await measureSteady(ctx, cores);
  }
  const steps = planRepetition(o, isTargetSetting);
  // Repetitions are the outer loop so slow drift (caches, table growth) spreads over all points.
  for (let rep = 1; rep <= o.repetitions && steps.length > 0; rep++) {
    for (const step of steps) {
      if (step.kind === "exchange") {
        ctx.results.points.push(await measurePoint(ctx, cores, step.point, rep));
      } else {
        await measurePgbench(ctx, cores, step.mode, step.clients, rep);
      }
    }
  }
  if (!isTargetSetting) {
    return;
  }
  if (o.points.includes("idle") && o.idleConnections > 0 && ctx.serverPid !== undefined) {
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
  if (o.points.includes("deep-book")) {
    ctx.results.deepBook = await measureDeepBook(ctx, cores);
  }
}

/** Starts a server per core setting on `database` and measures each setting's points. */
async function measureOwnServer(
  base: Omit<Context, "host" | "port" | "httpPort" | "serverPid" | "postmaster" | "pg" | "quiesce">,
  database: BenchDatabase,
  pgbench: string | undefined,
  targetSetting: CoreSetting | undefined,
): Promise<void> {
  const { options, results } = base;
  let current: ServerProcess | undefined;
  const onSignal = () => {
    log("interrupted: stopping the server");
    (current?.stop() ?? Promise.resolve())
      .then(() => database.dispose())
      .finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    for (const cores of options.cores) {
      log(`starting server (cores ${cores.label}) on ${database.description}`);
      current = await startServer({
        port: freePort(),
        httpPort: freePort(),
        database,
        cpuList: cores.cpuList,
        extraArgs: benchServerArgs(options),
      });
      const attached = await database.attach();
      try {
        results.serverBanner = current.banner;
        const ctx: Context = {
          ...base,
          host: "127.0.0.1",
          port: current.port,
          httpPort: current.httpPort,
          serverPid: current.pid,
          postmaster: attached?.postmaster,
          pg: pgbench === undefined ? undefined : attached?.pgbench,
          // Every point starts from a checkpointed PostgreSQL, so that no point pays for the
          // dirty pages (and the full-page writes after the next checkpoint) left by the one
          // before; pgbench at scale 64 leaves the most.
          quiesce: async () => {
            await attached?.checkpoint();
          },
        };
        if (attached?.postmaster === undefined && database.kind === "embedded") {
          results.notes.push("PostgreSQL's pid was not found: no PostgreSQL CPU figures.");
        }
        if (results.machine.postgres === "unknown" && attached !== undefined) {
          const [row] = await attached.admin`SELECT version() AS version`;
          results.machine = await machineInfo({ pgbench, postgres: String(row?.version) });
        }
        await createOrThrow(ctx.host, ctx.port, setupRequest(ctx.accounts, ctx.symbols));
        const needsPgbench = options.points.some((p) => PGBENCH_GROUPS.includes(p));
        if (ctx.pg !== undefined && needsPgbench && results.pgbenchScale === undefined) {
          // TPC-B contends on branch rows: scale (branches) at least the largest client count.
          const scale = largestClientCount(options);
          log(`pgbench -i -s ${scale}`);
          results.pgbenchInitSeconds = await pgbenchInit(ctx.pg, scale);
          results.pgbenchScale = scale;
        }
        await measureSetting(ctx, cores, cores === targetSetting);
      } finally {
        await attached?.detach();
        await current.stop();
        current = undefined;
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** Runs the whole bench; returns the results (also written to `options.outDir`). */
export async function runBench(options: BenchOptions): Promise<RunResults> {
  const startedAt = new Date();
  // Before anything is written: the out directory may be inside the repository.
  const provenance = await readProvenance(REPO_ROOT);
  await Deno.mkdir(options.outDir, { recursive: true });
  const pgbench = options.noPgbench ? undefined : await pgbenchVersion();
  const tag = String(Date.now() % 1_000_000_000);
  const results: RunResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    totalSeconds: 0,
    provenance,
    database: undefined,
    loadAverage: { start: await loadAverage(), end: undefined },
    options: options.databaseUrl === undefined ? options : {
      ...options,
      databaseUrl: redactPasswords(options.databaseUrl),
    },
    machine: await machineInfo({ pgbench, postgres: undefined }),
    serverBanner: "",
    pgbenchScale: undefined,
    pgbenchInitSeconds: undefined,
    points: [],
    pgbench: [],
    idle: undefined,
    steady: undefined,
    deepBook: undefined,
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
  // Enough accounts for every client of every point, and for the shared-accounts point.
  const accountCount = Math.max(largestClientCount(options), options.sharedAccounts);
  const base = {
    options,
    results,
    tag,
    accounts: Array.from({ length: accountCount }, (_, i) => `${tag}${String(i).padStart(4, "0")}`),
    symbols: symbolNames(options.symbols),
  };
  const targetSetting = options.cores.find((c) => c.label.startsWith("all")) ??
    options.cores.at(-1);

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
    await createOrThrow(ctx.host, ctx.port, setupRequest(ctx.accounts, ctx.symbols));
    await measureSetting(ctx, options.cores[0]!, true);
  } else {
    const database = options.databaseUrl === undefined
      ? await embeddedDatabase()
      : await externalDatabase(options.databaseUrl, tag, (line) => results.notes.push(line));
    results.database = { kind: database.kind, description: database.description };
    if (database.kind === "external") {
      results.notes.push(
        "External PostgreSQL: its CPU is not measured (the cluster may serve others too), and " +
          "--cores pins the server only.",
      );
    }
    try {
      await measureOwnServer(base, database, pgbench, targetSetting);
    } finally {
      await database.dispose();
    }
  }

  const finished = new Date();
  results.loadAverage.end = await loadAverage();
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
