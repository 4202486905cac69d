/** What the points measured against one running server share. */
import type { BenchOptions } from "./options.ts";
import type { PgTarget } from "./pgbench.ts";
import type { RunResults } from "./results.ts";

/** One running server (ours or someone else's), its PostgreSQL and the run's records. */
export interface Context {
  options: BenchOptions;
  results: RunResults;
  host: string;
  port: number;
  /** The server's HTTP side port, for /metrics (undefined: batch sizes not measured). */
  httpPort: number | undefined;
  serverPid: number | undefined;
  postmaster: number | undefined;
  /** Digits unique to this run: the prefix of every account it creates, and of its symbols. */
  tag: string;
  accounts: string[];
  symbols: string[];
  pg: PgTarget | undefined;
  /** Brings PostgreSQL to the same state before every point (a no-op for an external server). */
  quiesce: () => Promise<void>;
}
