/**
 * Exchange matching server: parse configuration, open the database, listen, shut down cleanly.
 *
 *   deno task serve [--port 12345] [--data-dir .data] [--database-url URL] [--pool-size 16]
 *                   [--workers N] [--reset] [--http-port 12380] [--log-format text|json]
 */
import { buildConfig, ConfigError, readOptions, type ServerConfig } from "./src/config.ts";
import { optionsHelp } from "./src/options_text.ts";
import { ClusterSetupError } from "./src/db/cluster_setup_error.ts";
import { type Database, openDatabase } from "./src/db/database.ts";
import { openMarketDataPool } from "./src/db/market_data.ts";
import { migrate } from "./src/db/migrate.ts";
import { type HttpServer, PortInUseError, startHttpServer } from "./src/http/http_server.ts";
import {
  processMetricsText,
  serveWorkerMetrics,
  supervisorMetricsText,
  type WorkerMetricsServer,
} from "./src/http/worker_metrics.ts";
import { ExchangeService } from "./src/server/exchange_service.ts";
import { Logger } from "./src/server/logger.ts";
import { formatReadyLine } from "./src/server/ready_line.ts";
import { ExchangeServer } from "./src/server/server.ts";
import {
  freePort,
  poolShare,
  workerArgs,
  workerMetricsDetail,
  WorkerSupervisor,
} from "./src/server/workers.ts";

/** Until the configuration is read, lines go out as text. */
let logger = new Logger({ format: "text", slowMs: 1_000, accessLog: false });
const log = (line: string) => logger.line(line);

/** An expected start-up failure (a port in use): one line, no stack. */
class StartError extends Error {}

/** Listens on the TCP port, turning "in use" into a {@link StartError}. */
function listen(config: ServerConfig, db: Database, reusePort: boolean): ExchangeServer {
  try {
    return new ExchangeServer({
      host: config.host,
      port: config.port,
      reusePort,
      limits: config.limits,
      service: new ExchangeService(db, log, config.engine),
      log,
      logger,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new StartError(
        `Cannot listen on ${config.host}:${config.port}: the port is in use; choose another ` +
          `with --port`,
      );
    }
    throw error;
  }
}

/** The HTTP side port, if enabled, on its own small pool; "" or a detail for the ready line. */
function startHttp(
  config: ServerConfig,
  db: Database,
  metricsText: () => Promise<string>,
): { http: HttpServer; close(): Promise<void> } | undefined {
  if (config.http.port === 0) {
    return undefined;
  }
  const sql = openMarketDataPool(db, config.database, config.http.poolSize, "exchange-http");
  try {
    const http = startHttpServer({
      config: config.http,
      sql,
      readyTimeoutMs: config.database.connectTimeoutMs,
      logger,
      metricsText,
    });
    return {
      http,
      async close() {
        await http.shutdown();
        await sql.end({ timeout: 5 });
      },
    };
  } catch (error) {
    sql.end({ timeout: 0 }).catch(() => {});
    if (error instanceof PortInUseError) {
      throw new StartError(error.message);
    }
    throw error;
  }
}

function httpDetail(side: { http: HttpServer } | undefined): string {
  return side === undefined ? "HTTP off" : `HTTP on ${side.http.host}:${side.http.port}`;
}

function usage(): string {
  return `Usage: deno task serve [options]\n\nOptions:\n${optionsHelp()}\n`;
}

/** Resolves when SIGINT or SIGTERM arrives. */
function signalled(): Promise<string> {
  return new Promise((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
    Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  });
}

/** One process that listens and serves (alone, or as one of several workers). */
async function serve(config: ServerConfig, role: "single" | "worker"): Promise<void> {
  const db = await openDatabase(config.database, { applicationName: `exchange-${role}`, log });
  // A worker leaves the embedded cluster to the supervisor that started it.
  const ownsCluster = role === "single";
  let server: ExchangeServer | undefined;
  let side: Awaited<ReturnType<typeof startHttp>>;
  let workerMetrics: WorkerMetricsServer | undefined;
  try {
    if (role === "single") {
      const applied = await migrate(db, { reset: config.database.reset });
      if (config.database.reset) {
        log("reset: all exchange data deleted");
      }
      if (applied.length > 0) {
        log(`applied migrations ${applied.join(", ")}`);
      }
    }
    server = listen(config, db, role === "worker");
    side = startHttp(config, db, processMetricsText);
  } catch (error) {
    // A failed start (port in use, a migration error) leaves no PostgreSQL behind.
    await server?.shutdown(0);
    await db.close({ stopEmbedded: ownsCluster });
    throw error;
  }
  let detail = `database: ${db.description}, pool ${config.database.poolSize}`;
  if (role === "worker") {
    workerMetrics = serveWorkerMetrics();
    detail += `, ${workerMetricsDetail(workerMetrics.port)}`;
  } else {
    detail += `, ${httpDetail(side)}`;
  }
  const stop = signalled();
  console.log(formatReadyLine(config.host, server.port, detail));
  const serving = server.serve();
  const signal = await stop;
  log(`${signal}: no longer accepting; finishing requests in flight`);
  await side?.close();
  // After the grace, work still in flight is abandoned: closing the pool's connections makes
  // PostgreSQL roll back their transactions, and the operations left are answered unavailable.
  await server.shutdown(config.shutdownGraceMs, () => db.abandon());
  await serving;
  await workerMetrics?.shutdown();
  await db.close({ stopEmbedded: ownsCluster });
  log("stopped cleanly");
}

/** The supervisor of `--workers N`: owns the database, runs the workers. */
async function supervise(config: ServerConfig, args: string[]): Promise<void> {
  const db = await openDatabase({ ...config.database, poolSize: 1 }, {
    applicationName: "exchange-supervisor",
    log,
  });
  try {
    await migrate(db, { reset: config.database.reset });
  } catch (error) {
    await db.close();
    throw error;
  }
  const port = config.port === 0 ? freePort(config.host) : config.port;
  const share = poolShare(config.database.poolSize, config.workers);
  const supervisor = new WorkerSupervisor(workerArgs(args, config.host, port, share), log);
  const stop = signalled();
  let side: Awaited<ReturnType<typeof startHttp>>;
  try {
    // HTTP first: a taken HTTP port stops the start before any worker runs.
    side = startHttp(config, db, () => supervisorMetricsText(supervisor.metricsPorts()));
    await supervisor.start(config.workers);
    console.log(formatReadyLine(
      config.host,
      port,
      `${config.workers} workers, database: ${db.description}, ` +
        `pool ${share * config.workers} (${share} per worker), ${httpDetail(side)}`,
    ));
    const signal = await stop;
    log(`${signal}: stopping workers`);
  } finally {
    // Also when a worker could not start: never leave workers or the database running.
    await side?.close();
    await supervisor.stop();
    await db.close();
  }
  log("stopped cleanly");
}

async function main(): Promise<number> {
  let config: ServerConfig;
  let isWorker: boolean;
  try {
    const { values, extra } = readOptions(Deno.args, (name) => Deno.env.get(name), {
      worker: { type: "boolean" },
    });
    if (values.get("help") === true) {
      console.log(usage());
      return 0;
    }
    config = buildConfig(values, navigator.hardwareConcurrency);
    isWorker = extra.worker === true;
    logger = new Logger(config.log);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      console.error(`${error.message}\n\n${usage()}`);
      return 2;
    }
    throw error;
  }
  try {
    if (isWorker) {
      await serve(config, "worker");
    } else if (config.workers > 1) {
      await supervise(config, [...Deno.args]);
    } else {
      await serve(config, "single");
    }
  } catch (error) {
    // Layouts and ports a user can fix get one sentence, not a stack trace.
    if (error instanceof StartError || error instanceof ClusterSetupError) {
      logger.event("start_failed", `cannot start: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
