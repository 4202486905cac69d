/**
 * The supervisor of `--workers N`: owns the database (starts the embedded cluster, migrates,
 * stops it at the end), serves the HTTP side port for the whole exchange, and runs N workers
 * (src/server/workers.ts) that share the TCP port.
 */
import type { ServerConfig } from "../config.ts";
import { openDatabase } from "../db/database.ts";
import { migrate } from "../db/migrate.ts";
import { supervisorMetricsText } from "../observability/worker_metrics.ts";
import { httpDetail, type HttpSide, signalled, startHttpSide } from "./http_side.ts";
import type { Logger } from "../observability/logger.ts";
import { formatReadyLine } from "./ready_line.ts";
import { freePort, poolShare, workerArgs, WorkerSupervisor } from "./workers.ts";

/** Runs the workers until SIGINT/SIGTERM; `args` are the supervisor's own, passed on in part. */
export async function supervise(
  config: ServerConfig,
  args: string[],
  logger: Logger,
): Promise<void> {
  const log = (line: string) => logger.line(line);
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
  let side: HttpSide | undefined;
  try {
    // HTTP first: a taken HTTP port stops the start before any worker runs.
    side = startHttpSide(
      config,
      db,
      logger,
      () => supervisorMetricsText(supervisor.metricsPorts()),
    );
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
