/**
 * Exchange matching server: reads the configuration, then serves (src/server/serve.ts) or, with
 * `--workers N`, supervises N serving processes (src/server/supervisor.ts).
 *
 *   deno task serve [--port 12345] [--data-dir .data] [--database-url URL] [--pool-size 16]
 *                   [--workers N] [--reset] [--http-port 12380] [--log-format text|json]
 */
import { buildConfig, ConfigError, readOptions, type ServerConfig } from "./src/config.ts";
import { ClusterSetupError } from "./src/db/cluster_setup_error.ts";
import { optionsHelp } from "./src/options_text.ts";
import { Logger } from "./src/observability/logger.ts";
import { serve } from "./src/server/serve.ts";
import { StartError } from "./src/server/start_error.ts";
import { supervise } from "./src/server/supervisor.ts";

function usage(): string {
  return `Usage: deno task serve [options]\n\nOptions:\n${optionsHelp()}\n`;
}

async function main(): Promise<number> {
  let config: ServerConfig;
  let isWorker: boolean;
  let logger: Logger;
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
      await serve(config, "worker", logger);
    } else if (config.workers > 1) {
      await supervise(config, [...Deno.args], logger);
    } else {
      await serve(config, "single", logger);
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
