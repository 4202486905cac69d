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
  clients: number;
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
