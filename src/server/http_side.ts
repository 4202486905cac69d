/**
 * The HTTP side port of a server process or of the supervisor: started on its own small pool
 * (market data and readiness never take connections of the order path), closed with it.
 */
import type { ServerConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import { openMarketDataPool } from "../db/market_data.ts";
import { type HttpServer, PortInUseError, startHttpServer } from "../http/http_server.ts";
import type { Logger } from "../observability/logger.ts";
import { StartError } from "./start_error.ts";

/** A running HTTP side port and how to close it with its pool. */
export interface HttpSide {
  http: HttpServer;
  close(): Promise<void>;
}

/** Starts the HTTP side port if enabled (`--http-port` not 0); a taken port is a StartError. */
export function startHttpSide(
  config: ServerConfig,
  db: Database,
  logger: Logger,
  metricsText: () => Promise<string>,
): HttpSide | undefined {
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

/** The HTTP part of the ready line. */
export function httpDetail(side: HttpSide | undefined): string {
  return side === undefined ? "HTTP off" : `HTTP on ${side.http.host}:${side.http.port}`;
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function signalled(): Promise<string> {
  return new Promise((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
    Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  });
}
