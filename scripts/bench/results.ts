/** The records one bench run produces (also written as results.json). */
import type { DeepBookRecord } from "./deep_book.ts";
import type { IdleResult } from "./idle_connections.ts";
import type { LatencySummary } from "./latency_stats.ts";
import type { MachineInfo } from "./machine_info.ts";
import type { BenchOptions, Framing } from "./options.ts";
import type { PgbenchMode } from "./pgbench.ts";
import type { Provenance } from "./provenance.ts";
import type { SliceRecord } from "./slices.ts";
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
  /** 0: each client on its own account; N: every order on one of N shared accounts. */
  sharedAccounts: number;
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
  /** pgbench's `-M` (older results.json files have none: they ran the simple protocol). */
  protocol: string;
  /** Transactions per client run unmeasured just before (0: no warm-up). */
  warmupTransactionsPerClient: number;
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

/** pgbench TPC-B beside the steady point: as long, as many clients, the same slices. */
export interface SteadyPgbench {
  clients: number;
  /** The steady point's length (pgbench ran one second more; see steady.ts). */
  seconds: number;
  /** Mean of the slices' tps. */
  tps: number;
  /** tps in each slice (pgbench's `-P`). */
  slices: number[];
  /** Last slice's tps over the first's. */
  lastOverFirst: number | undefined;
}

/** The steady point: one long closed-loop run, its rate reported slice by slice. */
export interface SteadyRecord {
  /** The whole run as one point (CPU, batches, latency over all of it). */
  point: PointRecord;
  sliceMs: number;
  slices: SliceRecord[];
  /** Last slice's orders/s over the first's: below 1, the server slowed down as it ran. */
  lastOverFirst: number | undefined;
  pgbench: SteadyPgbench | undefined;
}

/** Where the server's PostgreSQL was. */
export interface DatabaseRecord {
  kind: "embedded" | "external";
  /** Never holds a password. */
  description: string;
}

/** Everything a run measured. */
export interface RunResults {
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  /** The commit measured, and whether the tree was dirty. */
  provenance: Provenance;
  /** Undefined when the bench targeted a running server (`--host`/`--port`). */
  database: DatabaseRecord | undefined;
  /** The machine's 1, 5 and 15 minute load averages as the run started and as it ended. */
  loadAverage: { start: number[] | undefined; end: number[] | undefined };
  options: BenchOptions;
  machine: MachineInfo;
  serverBanner: string;
  pgbenchScale: number | undefined;
  pgbenchInitSeconds: number | undefined;
  points: PointRecord[];
  pgbench: PgbenchRecord[];
  idle: IdleResult | undefined;
  steady: SteadyRecord | undefined;
  deepBook: DeepBookRecord | undefined;
  notes: string[];
}
