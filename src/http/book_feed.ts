/**
 * The live feed behind the order-book page: server-sent events per symbol.
 *
 * No polling storm: browsers never poll. One loop per process looks, every `intervalMs` and
 * only while someone watches, at a write marker (PostgreSQL's WAL insert position: one tiny
 * statement). Only when it moved are the watched books read again, once per symbol however
 * many people watch it, and an event goes out only when the snapshot differs from the last one.
 * The marker is checked again on the tick after a change too: a commit's WAL record is written
 * a moment before the commit becomes visible, and the extra read catches that moment.
 */
import type { HttpConfig } from "../config.ts";
import type { Sql } from "../db/database.ts";
import {
  type Book,
  type Candle,
  readBook,
  readCandles,
  readTrades,
  type Trades,
  writeMarker,
} from "../db/market_data.ts";
import type { Logger } from "../observability/logger.ts";
import { describe } from "./readiness.ts";

/** Price levels per side the page shows. */
export const FEED_BOOK_DEPTH = 15;
/** Trades the page shows. */
export const FEED_TRADES = 25;
/**
 * Trades the page's price chart draws, summed per second: enough to see how the price moved,
 * and at most about 50 kB of candles per event.
 */
export const FEED_CHART_TRADES = 500;
/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** How long a browser waits before reconnecting after the stream broke. */
const RECONNECT_MS = 2_000;

/**
 * What one event carries: the book, the last trades and the price chart's candles of one
 * symbol. Each event is whole (no deltas), so a page that reconnects needs nothing else.
 */
export interface MarketSnapshot {
  book: Book;
  trades: Trades;
  candles: Candle[];
}

interface Watched {
  subscribers: Set<ReadableStreamDefaultController<Uint8Array>>;
  /** The last snapshot sent, as sent (JSON). */
  last: string | undefined;
}

const encoder = new TextEncoder();

/** Reads market data for the feed; `undefined` when the symbol does not exist. */
export async function readSnapshot(
  sql: Sql,
  sym: string,
  config: HttpConfig,
): Promise<MarketSnapshot | undefined> {
  const [book, trades, candles] = await Promise.all([
    readBook(sql, sym, FEED_BOOK_DEPTH),
    readTrades(sql, sym, FEED_TRADES, config.tradesScanRowsMax),
    readCandles(sql, sym, FEED_CHART_TRADES, config.tradesScanRowsMax),
  ]);
  if (book === undefined || trades === undefined || candles === undefined) {
    return undefined;
  }
  return { book, trades, candles };
}

/** Every subscriber of this process, by symbol, and the loop that keeps them current. */
export class BookFeed {
  readonly #sql: Sql;
  readonly #config: HttpConfig;
  readonly #logger: Logger;
  readonly #watched = new Map<string, Watched>();
  #subscribers = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #marker: string | undefined;
  #changedLastTick = false;
  #failing = false;
  #closed = false;

  constructor(sql: Sql, config: HttpConfig, logger: Logger) {
    this.#sql = sql;
    this.#config = config;
    this.#logger = logger;
  }

  /** Subscribers right now, across symbols. */
  get subscriberCount(): number {
    return this.#subscribers;
  }

  /**
   * An event stream for `sym`, starting with `first` (already read by the caller, which also
   * found the symbol exists); `undefined` when the subscriber limit is reached.
   */
  subscribe(sym: string, first: MarketSnapshot): ReadableStream<Uint8Array> | undefined {
    if (this.#subscribers >= this.#config.feedSubscribersMax || this.#closed) {
      return undefined;
    }
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const firstJson = JSON.stringify(first);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        let watched = this.#watched.get(sym);
        if (watched === undefined) {
          watched = { subscribers: new Set(), last: firstJson };
          this.#watched.set(sym, watched);
        }
        watched.subscribers.add(controller);
        this.#subscribers++;
        controller.enqueue(
          encoder.encode(`retry: ${RECONNECT_MS}\nevent: market\ndata: ${firstJson}\n\n`),
        );
        this.#start();
      },
      cancel: () => {
        if (self !== undefined) {
          this.#unsubscribe(sym, self);
        }
      },
    });
  }

  /** Ends every stream and stops the loop. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    this.#timer = undefined;
    this.#heartbeat = undefined;
    for (const [sym, watched] of this.#watched) {
      for (const controller of watched.subscribers) {
        try {
          controller.close();
        } catch {
          // Already closed by the client.
        }
        this.#unsubscribe(sym, controller);
      }
    }
  }

  #unsubscribe(sym: string, controller: ReadableStreamDefaultController<Uint8Array>): void {
    const watched = this.#watched.get(sym);
    if (watched === undefined || !watched.subscribers.delete(controller)) {
      return;
    }
    this.#subscribers--;
    if (watched.subscribers.size === 0) {
      this.#watched.delete(sym);
    }
  }

  #start(): void {
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setTimeout(() => this.#tick(), this.#config.feedIntervalMs);
    }
    this.#heartbeat ??= setInterval(() => this.#send(": heartbeat\n\n"), HEARTBEAT_MS);
  }

  #send(text: string, only?: Watched): void {
    const bytes = encoder.encode(text);
    for (const [sym, watched] of this.#watched) {
      if (only !== undefined && watched !== only) {
        continue;
      }
      for (const controller of watched.subscribers) {
        try {
          controller.enqueue(bytes);
        } catch {
          this.#unsubscribe(sym, controller);
        }
      }
    }
  }

  async #tick(): Promise<void> {
    try {
      await this.#refresh();
      if (this.#failing) {
        this.#failing = false;
        this.#logger.event("feed_recovered", "live feed: database answers again");
      }
    } catch (error) {
      // An outage is expected sometimes: one line when it starts, none while it lasts.
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.event("feed_unavailable", `live feed paused: ${describe(error)}`);
      }
      this.#marker = undefined;
    }
    this.#timer = undefined;
    if (this.#watched.size > 0) {
      this.#start();
    } else {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  async #refresh(): Promise<void> {
    if (this.#watched.size === 0) {
      return;
    }
    const marker = await writeMarker(this.#sql);
    const changed = marker !== this.#marker;
    this.#marker = marker;
    if (!changed && !this.#changedLastTick) {
      return;
    }
    this.#changedLastTick = changed;
    await Promise.all([...this.#watched.keys()].map(async (sym) => {
      const snapshot = await readSnapshot(this.#sql, sym, this.#config);
      const watched = this.#watched.get(sym);
      if (snapshot === undefined || watched === undefined) {
        return;
      }
      const json = JSON.stringify(snapshot);
      if (json !== watched.last) {
        watched.last = json;
        this.#send(`event: market\ndata: ${json}\n\n`, watched);
      }
    }));
  }
}
