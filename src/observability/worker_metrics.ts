/**
 * How the `--workers` supervisor gets its workers' metrics: each worker serves its registry as
 * JSON on a loopback port of its own (announced in its ready line), and the supervisor, on each
 * scrape of `/metrics`, fetches them all and sums them with its own (prom-client's aggregator).
 */
import { aggregateMetrics, metrics, type MetricsSnapshot, metricsSnapshot } from "./metrics.ts";

/** The path a worker serves its snapshot on. */
const SNAPSHOT_PATH = "/internal/metrics.json";
/** A worker that does not answer within this is left out of that scrape. */
const WORKER_SCRAPE_TIMEOUT_MS = 2_000;

/** A worker's loopback-only metrics listener. */
export interface WorkerMetricsServer {
  port: number;
  shutdown(): Promise<void>;
}

/** Serves this process's metrics snapshot on 127.0.0.1 at a free port. */
export function serveWorkerMetrics(): WorkerMetricsServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (new URL(request.url).pathname !== SNAPSHOT_PATH) {
        return new Response("Not found\n", { status: 404 });
      }
      return Response.json(await metricsSnapshot());
    },
  );
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}

async function fetchSnapshot(port: number): Promise<MetricsSnapshot | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${SNAPSHOT_PATH}`, {
      signal: AbortSignal.timeout(WORKER_SCRAPE_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return await response.json() as MetricsSnapshot;
  } catch {
    // A worker restarting or stuck: its numbers are missing from this scrape only.
    return undefined;
  }
}

/** The supervisor's metrics plus every worker's, summed. */
export async function supervisorMetricsText(workerPorts: readonly number[]): Promise<string> {
  const snapshots = await Promise.all(workerPorts.map(fetchSnapshot));
  const found = snapshots.filter((s): s is MetricsSnapshot => s !== undefined);
  return await aggregateMetrics([await metricsSnapshot(), ...found]);
}

/** This process's metrics alone. */
export async function processMetricsText(): Promise<string> {
  return await metrics.registry.metrics();
}
