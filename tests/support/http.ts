/**
 * Test support: an in-process exchange (TCP) with its HTTP side port, both on free ports, on a
 * fresh database. The HTTP side reads through the test database's pool.
 */
import { buildConfig, type DatabaseConfig, type HttpConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/database.ts";
import { type HttpServer, startHttpServer } from "../../src/http/http_server.ts";
import { processMetricsText } from "../../src/observability/worker_metrics.ts";
import { Logger } from "../../src/observability/logger.ts";
import { startTestServer, type TestServer } from "./harness.ts";

/** An exchange with its HTTP side. */
export interface HttpTestServer {
  exchange: TestServer;
  http: HttpServer;
  /** `http://127.0.0.1:PORT` */
  base: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startHttpTestServer(
  options: { db?: Database; http?: Partial<HttpConfig>; database?: Partial<DatabaseConfig> } = {},
): Promise<HttpTestServer> {
  const exchange = await startTestServer({
    ...(options.db === undefined ? {} : { db: options.db }),
    ...(options.database === undefined ? {} : { database: options.database }),
  });
  const defaults = buildConfig(new Map(), 2);
  const logs: string[] = [];
  const http = startHttpServer({
    config: { ...defaults.http, host: "127.0.0.1", port: 0, ...options.http },
    sql: exchange.db.sql,
    readyTimeoutMs: options.database?.connectTimeoutMs ?? 2_000,
    logger: new Logger({ format: "text", slowMs: 1_000, accessLog: false }, (l) => logs.push(l)),
    metricsText: processMetricsText,
  });
  return {
    exchange,
    http,
    base: `http://127.0.0.1:${http.port}`,
    logs,
    async close() {
      await http.shutdown();
      await exchange.close();
    },
  };
}

/** GET `path`, returning the status and the parsed JSON body. */
export async function getJson(
  base: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(base + path);
  return { status: response.status, body: await response.json() };
}
