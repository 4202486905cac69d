/**
 * The order engine's batch sizes, read from the server's Prometheus `/metrics` on its HTTP side
 * port: the histogram `exchange_order_batch_size` (operations per batch). Scraped before and
 * after a point, the two counters give the point's mean batch size.
 */

/** The histogram's running totals: operations in all batches, and batches. */
export interface BatchCounters {
  sum: number;
  count: number;
}

/** The point's batches: how many, and their mean size (undefined when there were none). */
export interface BatchDelta {
  batches: number;
  mean: number | undefined;
}

const METRIC = "exchange_order_batch_size";
/** A scrape must never stall a point for long: the server answers /metrics in about 1 ms. */
const SCRAPE_TIMEOUT_MS = 5_000;

/** A sample line without labels, e.g. `exchange_order_batch_size_sum 42`. */
function sample(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+|NaN)$`, "m").exec(text);
  if (match === null) {
    return undefined;
  }
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/** Reads the histogram's `_sum` and `_count` from exposition text; undefined if absent. */
export function parseBatchCounters(text: string): BatchCounters | undefined {
  const sum = sample(text, `${METRIC}_sum`);
  const count = sample(text, `${METRIC}_count`);
  return sum === undefined || count === undefined ? undefined : { sum, count };
}

/** The batches between two scrapes; undefined when either scrape failed. */
export function batchDelta(
  before: BatchCounters | undefined,
  after: BatchCounters | undefined,
): BatchDelta | undefined {
  if (before === undefined || after === undefined) {
    return undefined;
  }
  const batches = after.count - before.count;
  return { batches, mean: batches > 0 ? (after.sum - before.sum) / batches : undefined };
}

/** Scrapes `http://host:port/metrics`; undefined when there is no port or the scrape fails. */
export async function scrapeBatchCounters(
  host: string,
  port: number | undefined,
): Promise<BatchCounters | undefined> {
  if (port === undefined) {
    return undefined;
  }
  try {
    const response = await fetch(`http://${host}:${port}/metrics`, {
      signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
    });
    const text = await response.text();
    return response.ok ? parseBatchCounters(text) : undefined;
  } catch {
    return undefined;
  }
}
