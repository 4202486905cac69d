/**
 * Exchange matching server: parse configuration, open the database, listen, shut down cleanly.
 *
 *   deno task serve [--port 12345] [--data-dir .data] [--database-url URL] [--pool-size 16] [--reset]
 */
import { buildConfig, ConfigError, optionsHelp, readOptions, type ServerConfig } from "./src/config.ts";
import { type Database, openDatabase } from "./src/db/database.ts";
import { migrate } from "./src/db/migrate.ts";
import { ExchangeService } from "./src/server/exchange_service.ts";
import { ExchangeServer } from "./src/server/server.ts";

const log = (line: string) => console.error(`[exchange] ${line}`);

function usage(): string {
  return `Usage: deno task serve [options]\n\nOptions:\n${optionsHelp()}\n`;
}

async function main(): Promise<number> {
  let config: ServerConfig;
  try {
    const { values } = readOptions(Deno.args, (name) => Deno.env.get(name));
    if (values.get("help") === true) {
      console.log(usage());
      return 0;
    }
    config = buildConfig(values, navigator.hardwareConcurrency);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      console.error(`${error.message}\n\n${usage()}`);
      return 2;
    }
    throw error;
  }

  const db: Database = await openDatabase(config.database, { applicationName: "exchange-server", log });
  const applied = await migrate(db, { reset: config.database.reset });
  if (config.database.reset) {
    log("reset: all exchange data deleted");
  }
  if (applied.length > 0) {
    log(`applied migrations ${applied.join(", ")}`);
  }
  const service = new ExchangeService(db, log);
  const server = new ExchangeServer({
    host: config.host,
    port: config.port,
    reusePort: config.workers > 1,
    limits: config.limits,
    service,
    log,
  });
  console.log(
    `exchange server listening on ${config.host}:${server.port} (pid ${Deno.pid}), ` +
      `database: ${db.description}, pool ${config.database.poolSize}`,
  );

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      log(`${signal}: no longer accepting; finishing requests in flight`);
      await server.shutdown(config.shutdownGraceMs);
      await db.close();
      log("stopped cleanly");
    })();
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  await server.serve();
  await stopping;
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
