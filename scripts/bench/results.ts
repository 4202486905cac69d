/** The records one bench run produces (also written as results.json). */
import type { IdleResult } from "./idle_connections.ts";
import type { LatencySummary } from "./latency_stats.ts";
import type { MachineInfo } from "./machine_info.ts";
import type { BenchOptions, Framing } from "./options.ts";
import type { PgbenchMode } from "./pgbench.ts";
import type { WorkloadKind } from "./workload.ts";

/** One repetition of one exchange point. */
export interface PointRecord {
  cores: string;
  framing: Framing;
  /** Requests in flight per client (1 for text). */
  depth: number;
  clients: number;
  /** Symbols the orders spread over. */
  symbols: number;
  workload: WorkloadKind;
  repetition: number;
  elapsedMs: number;
  requests: number;
  ops: number;
  orders: number;
  queries: number;
  cancels: number;
  requestsPerS: number;
  opsPerS: number;
  ordersPerS: number;
  queriesPerS: number;
  errors: number;
  refusals: number;
  errorMessages: string[];
  latency: LatencySummary;
  /** Percent of one core; undefined when the pid is unknown. */
  serverCpuPct: number | undefined;
  postgresCpuPct: number | undefined;
  clientCpuPct: number;
  serverRssBytes: number | undefined;
  /** Order-engine batches during the point, from the server's /metrics (undefined: no scrape). */
  batches: number | undefined;
  /** Operations (orders and cancels) per batch; undefined without batches or scrape. */
  batchMean: number | undefined;
  /** CPU seconds over the point; undefined when the pid is unknown. */
  serverCpuSeconds: number | undefined;
  postgresCpuSeconds: number | undefined;
  /** CPU milliseconds per completed order (all the point's CPU; undefined without orders). */
  serverCpuMsPerOrder: number | undefined;
  postgresCpuMsPerOrder: number | undefined;
}

/** One repetition of one pgbench point. */
export interface PgbenchRecord {
  cores: string;
  mode: PgbenchMode;
  clients: number;
  repetition: number;
  seconds: number;
  tps: number;
  latencyAvgMs: number;
  failed: number;
  postgresCpuPct: number | undefined;
  /** PostgreSQL CPU milliseconds per transaction, to set beside ours per order. */
  postgresCpuMsPerTx: number | undefined;
}

/** Everything a run measured. */
export interface RunResults {
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  options: BenchOptions;
  machine: MachineInfo;
  serverBanner: string;
  pgbenchScale: number | undefined;
  pgbenchInitSeconds: number | undefined;
  points: PointRecord[];
  pgbench: PgbenchRecord[];
  idle: IdleResult | undefined;
  notes: string[];
}
