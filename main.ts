/**
 * Exchange matching server: parse configuration, open the database, listen, shut down cleanly.
 *
 *   deno task serve [--port 12345] [--data-dir .data] [--database-url URL] [--pool-size 16]
 *                   [--workers N] [--reset]
 */
import {
  buildConfig,
  ConfigError,
  optionsHelp,
  readOptions,
  type ServerConfig,
} from "./src/config.ts";
import { ClusterSetupError } from "./src/db/cluster_setup_error.ts";
import { openDatabase } from "./src/db/database.ts";
import { migrate } from "./src/db/migrate.ts";
import { ExchangeService } from "./src/server/exchange_service.ts";
import { formatReadyLine } from "./src/server/ready_line.ts";
import { ExchangeServer } from "./src/server/server.ts";
import { freePort, poolShare, workerArgs, WorkerSupervisor } from "./src/server/workers.ts";

const log = (line: string) => console.error(`[exchange ${Deno.pid}] ${line}`);

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
  let server: ExchangeServer;
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
    server = new ExchangeServer({
      host: config.host,
      port: config.port,
      reusePort: role === "worker",
      limits: config.limits,
      service: new ExchangeService(db, log),
      log,
    });
  } catch (error) {
    // A failed start (port in use, a migration error) leaves no PostgreSQL behind.
    await db.close({ stopEmbedded: ownsCluster });
    throw error;
  }
  const stop = signalled();
  console.log(formatReadyLine(
    config.host,
    server.port,
    `database: ${db.description}, pool ${config.database.poolSize}`,
  ));
  const serving = server.serve();
  const signal = await stop;
  log(`${signal}: no longer accepting; finishing requests in flight`);
  // After the grace, work still in flight is abandoned: closing the pool's connections makes
  // PostgreSQL roll back their transactions, and the operations left are answered unavailable.
  await server.shutdown(config.shutdownGraceMs, () => db.abandon());
  await serving;
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
  try {
    await supervisor.start(config.workers);
    console.log(formatReadyLine(
      config.host,
      port,
      `${config.workers} workers, database: ${db.description}, ` +
        `pool ${share * config.workers} (${share} per worker)`,
    ));
    const signal = await stop;
    log(`${signal}: stopping workers`);
  } finally {
    // Also when a worker could not start: never leave workers or the database running.
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
    if (error instanceof ClusterSetupError) {
      log(error.message);
      return 1;
    }
    if (error instanceof Deno.errors.AddrInUse) {
      log(
        `Cannot listen on ${config.host}:${config.port}: the port is in use; choose another ` +
          `with --port`,
      );
      return 1;
    }
    throw error;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
