/**
 * One process that listens and serves, alone or as one of the supervisor's workers: opens the
 * database (and migrates it when alone), listens, prints the ready line, and on SIGINT/SIGTERM
 * finishes the requests in flight within the shutdown grace and stops.
 */
import type { ServerConfig } from "../config.ts";
import { type Database, openDatabase } from "../db/database.ts";
import { isUnavailable } from "../db/errors.ts";
import { migrate } from "../db/migrate.ts";
import {
  processMetricsText,
  serveWorkerMetrics,
  type WorkerMetricsServer,
} from "../observability/worker_metrics.ts";
import { installLastResort } from "./last_resort.ts";
import { metrics } from "../observability/metrics.ts";
import { ExchangeService } from "./exchange_service.ts";
import { httpDetail, type HttpSide, signalled, startHttpSide } from "./http_side.ts";
import type { Logger } from "../observability/logger.ts";
import { formatReadyLine } from "./ready_line.ts";
import { ExchangeServer } from "./server.ts";
import { StartError } from "./start_error.ts";
import { workerMetricsDetail } from "./workers.ts";

/** Listens on the TCP port, turning "in use" into a {@link StartError}. */
function listen(
  config: ServerConfig,
  db: Database,
  reusePort: boolean,
  logger: Logger,
): ExchangeServer {
  const log = (line: string) => logger.line(line);
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

/** Serves until SIGINT/SIGTERM (`single`: owns the database; `worker`: one of several). */
export async function serve(
  config: ServerConfig,
  role: "single" | "worker",
  logger: Logger,
): Promise<void> {
  const log = (line: string) => logger.line(line);
  const db = await openDatabase(config.database, { applicationName: `exchange-${role}`, log });
  // A worker leaves the embedded cluster to the supervisor that started it.
  const ownsCluster = role === "single";
  let server: ExchangeServer | undefined;
  let side: HttpSide | undefined;
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
    // Installed once the start has succeeded: a failed start ends the process with one sentence.
    installLastResort(
      log,
      (kind) => kind === "bug" ? metrics.unhandled() : metrics.driverStray(),
      isUnavailable,
    );
    server = listen(config, db, role === "worker", logger);
    side = startHttpSide(config, db, logger, processMetricsText);
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
