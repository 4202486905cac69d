/**
 * A whole fault run on one database target: starts the target's PostgreSQL, runs each kind in
 * turn (each with its own database and server process), prints each kind's report as it ends,
 * and removes the PostgreSQL at the end whatever happened.
 */
import { emptyResult } from "./controller.ts";
import { startEmbeddedCluster } from "./embedded_cluster.ts";
import { startExternalCluster } from "./external_cluster.ts";
import type { KindName } from "./kinds.ts";
import type { KindResult } from "./kind_result.ts";
import type { FaultCluster } from "./pg_cluster.ts";
import { formatKind } from "./report.ts";
import { type ProxyFactory, runKind } from "./run_kind.ts";

/** Which PostgreSQL the server runs against. */
export type TargetName = "embedded" | "external";

/** Options of a run. */
export interface SuiteOptions {
  target: TargetName;
  kinds: readonly KindName[];
  durationMs: number;
  /** Load per kind where it differs from `durationMs`. */
  durationsMs?: Partial<Record<KindName, number>>;
  clients: number;
  seed: number;
  log: (line: string) => void;
  /** The proxy factory, when the proxy module exists. */
  startProxy: ProxyFactory | undefined;
  /** Failover's controller, when the replica-pair module exists. */
  runFailover?: (options: FailoverOptions) => Promise<KindResult>;
}

/** What failover's controller gets (it brings its own PostgreSQL pair). */
export interface FailoverOptions {
  durationMs: number;
  clients: number;
  seed: number;
  log: (line: string) => void;
}

/** Runs every kind of `options.kinds` against a fresh cluster of `options.target`. */
export async function runSuite(options: SuiteOptions): Promise<KindResult[]> {
  const results: KindResult[] = [];
  const needsCluster = options.kinds.some((kind) => kind !== "failover");
  let cluster: FaultCluster | undefined;
  try {
    if (needsCluster) {
      cluster = options.target === "embedded"
        ? await startEmbeddedCluster()
        : await startExternalCluster();
      options.log(`PostgreSQL: ${cluster.label} on ${cluster.host}:${cluster.port}`);
    }
    for (const kind of options.kinds) {
      const durationMs = options.durationsMs?.[kind] ?? options.durationMs;
      options.log(`-- ${kind}: ${options.clients} clients, ${durationMs} ms`);
      const result = kind === "failover"
        ? await failover({ ...options, durationMs })
        : await runKind(kind, { ...options, durationMs, cluster: cluster! });
      results.push(result);
      for (const line of formatKind(result)) {
        options.log(line);
      }
    }
  } finally {
    await cluster?.close();
  }
  return results;
}

function failover(options: SuiteOptions): Promise<KindResult> {
  if (options.runFailover === undefined) {
    return Promise.resolve({
      ...emptyResult("failover", "replica pair"),
      skipped: "needs a failover controller (SuiteOptions.runFailover, see modules.ts)",
    });
  }
  return options.runFailover(options);
}
