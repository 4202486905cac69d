/**
 * The HTTP side port (Deno.serve): health and readiness probes, Prometheus metrics, market data
 * as JSON, a live feed (server-sent events) and the order-book page.
 *
 * Market data reads run on their own small pool, apart from the order path's connections: a
 * crowd watching the book cannot starve trading of connections, and readiness is answered even
 * when every order connection is busy.
 */
import type { HttpConfig } from "../config.ts";
import type { Sql } from "../db/database.ts";
import { listSymbols, readBook, readCandles, readTrades } from "../db/market_data.ts";
import { checkSymbol } from "../exchange/validation.ts";
import type { Logger } from "../observability/logger.ts";
import { metrics, METRICS_CONTENT_TYPE } from "../observability/metrics.ts";
import { BookFeed, FEED_CHART_TRADES, readSnapshot } from "./book_feed.ts";
import { STATIC_FILES } from "./page/static_files.ts";
import { describe, ReadinessProbe } from "./readiness.ts";

/** Most symbols `/api/symbols` lists. */
export const SYMBOLS_LIST_MAX = 1_000;
/** Book levels per side when `depth` is not given. */
const BOOK_DEPTH_DEFAULT = 10;
/** Trades when `limit` is not given. */
const TRADES_LIMIT_DEFAULT = 50;

export interface HttpServerOptions {
  config: HttpConfig;
  /** The HTTP side's own pool. */
  sql: Sql;
  /** Bound of a readiness probe: the database connect timeout. */
  readyTimeoutMs: number;
  logger: Logger;
  /** The exposition text of `/metrics` (this process's, or the sum over workers). */
  metricsText: () => Promise<string>;
}

/** A running HTTP side port. */
export interface HttpServer {
  readonly port: number;
  readonly host: string;
  /** Stops listening and ends every live feed. */
  shutdown(): Promise<void>;
}

/** Thrown when the port is taken: main turns it into one line. */
export class PortInUseError extends Error {
  override name = "PortInUseError";
}

/** Starts listening; throws {@link PortInUseError} if the port is taken. */
export function startHttpServer(options: HttpServerOptions): HttpServer {
  const { config, logger } = options;
  const feed = new BookFeed(options.sql, config, logger);
  const readiness = new ReadinessProbe(options.sql, options.readyTimeoutMs);
  const handler = new Router(options, feed, readiness);
  let requests = 0;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen: () => {},
      onError: (error) => {
        logger.event("http_error", `HTTP handler failed: ${(error as Error)?.stack ?? error}`);
        return json(500, { error: "Internal error" });
      },
    }, async (request, info) => {
      const started = performance.now();
      const conn = `h${++requests}`;
      const { response, route } = await handler.handle(request);
      metrics.httpRequest(route, response.status);
      if (logger.config.accessLog) {
        logger.event("http_request", `${request.method} ${new URL(request.url).pathname}`, {
          conn,
          status: response.status,
          peer: info.remoteAddr.hostname,
          ms: Math.round((performance.now() - started) * 10) / 10,
        });
      }
      return response;
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new PortInUseError(
        `HTTP port ${config.host}:${config.port} is already in use ` +
          `(choose another with --http-port, or 0 to turn HTTP off)`,
      );
    }
    throw error;
  }
  return {
    port: server.addr.port,
    host: config.host,
    async shutdown() {
      // Live feeds never end by themselves: close them first, or shutdown would wait forever.
      feed.close();
      await server.shutdown();
    },
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A whole number from the query string between 1 and `max`, or the fallback when absent. */
function boundedParam(
  url: URL,
  name: string,
  fallback: number,
  max: number,
): number | Response {
  const raw = url.searchParams.get(name);
  if (raw === null) {
    return fallback;
  }
  if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    return json(400, { error: `${name} must be a whole number from 1 to ${max}` });
  }
  return Number(raw);
}

type Routed = { response: Response; route: string };

class Router {
  readonly #options: HttpServerOptions;
  readonly #feed: BookFeed;
  readonly #readiness: ReadinessProbe;

  constructor(options: HttpServerOptions, feed: BookFeed, readiness: ReadinessProbe) {
    this.#options = options;
    this.#feed = feed;
    this.#readiness = readiness;
  }

  async handle(request: Request): Promise<Routed> {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return {
        response: json(405, { error: "Only GET is served here" }, { allow: "GET, HEAD" }),
        route: "other",
      };
    }
    const path = url.pathname;
    const staticFile = STATIC_FILES.get(path);
    if (staticFile !== undefined) {
      return {
        response: new Response(staticFile.body, {
          headers: { "content-type": staticFile.type, "cache-control": "no-cache" },
        }),
        route: "page",
      };
    }
    if (path === "/healthz") {
      return { response: json(200, { status: "ok" }), route: "healthz" };
    }
    if (path === "/readyz") {
      const state = await this.#readiness.check();
      return {
        response: state.ready
          ? json(200, { status: "ready" })
          : json(503, { status: "unavailable", reason: state.reason }),
        route: "readyz",
      };
    }
    if (path === "/metrics") {
      return {
        response: new Response(await this.#options.metricsText(), {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        }),
        route: "metrics",
      };
    }
    const match = /^\/api\/(symbols|books|trades|candles|feed)(?:\/([^/]*))?$/.exec(path);
    if (match === null) {
      return { response: json(404, { error: `Nothing at ${path}` }), route: "other" };
    }
    const route = match[1]!;
    try {
      return { response: await this.#api(route, match[2], url), route };
    } catch (error) {
      // The database is down or overloaded: an expected condition, answered without a stack.
      return {
        response: json(503, { error: `Service unavailable: ${describe(error)}` }),
        route,
      };
    }
  }

  async #api(route: string, rawSym: string | undefined, url: URL): Promise<Response> {
    const { sql, config } = this.#options;
    if (route === "symbols") {
      if (rawSym !== undefined) {
        return json(404, { error: `Nothing at ${url.pathname}` });
      }
      return json(200, { symbols: await listSymbols(sql, SYMBOLS_LIST_MAX) });
    }
    const sym = checkSymbol(rawSym === undefined ? undefined : decodeURIComponent(rawSym));
    if (!sym.ok) {
      return json(400, { error: sym.message });
    }
    const unknown = () => json(404, { error: `Unknown symbol ${sym.value}` });
    if (route === "books") {
      const depth = boundedParam(url, "depth", BOOK_DEPTH_DEFAULT, config.bookDepthMax);
      if (depth instanceof Response) {
        return depth;
      }
      const book = await readBook(sql, sym.value, depth);
      return book === undefined ? unknown() : json(200, book);
    }
    if (route === "trades") {
      const limit = boundedParam(url, "limit", TRADES_LIMIT_DEFAULT, config.tradesLimitMax);
      if (limit instanceof Response) {
        return limit;
      }
      const trades = await readTrades(sql, sym.value, limit, config.tradesScanRowsMax);
      return trades === undefined ? unknown() : json(200, {
        sym: trades.sym,
        trades: trades.trades,
        trades_last_minute: trades.tradesLastMinute,
        shares_last_minute: trades.sharesLastMinute,
      });
    }
    if (route === "candles") {
      // Defaults to what the page's chart draws, so that the API shows what the page shows.
      const limit = boundedParam(url, "limit", FEED_CHART_TRADES, config.candleTradesMax);
      if (limit instanceof Response) {
        return limit;
      }
      const candles = await readCandles(sql, sym.value, limit, config.tradesScanRowsMax);
      return candles === undefined ? unknown() : json(200, { sym: sym.value, candles });
    }
    const first = await readSnapshot(sql, sym.value, config);
    if (first === undefined) {
      return unknown();
    }
    const stream = this.#feed.subscribe(sym.value, first);
    if (stream === undefined) {
      return json(503, { error: "Too many live-feed subscribers; try again later" }, {
        "retry-after": "10",
      });
    }
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
      },
    });
  }
}
