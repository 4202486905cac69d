/**
 * The controller of the kinds that hurt one cluster (all but failover): a fresh database, the
 * TCP proxy in front of PostgreSQL for the network kinds, and the kind's episodes one after
 * another, each followed by the recovery probe. Its own resources (proxy, a read-only setting)
 * are undone in `finally`.
 */
import { emptyResult, type LoadOptions, runUnderFaults, sleep, SYMBOLS } from "./controller.ts";
import { adminTarget, type EpisodeKind, type NetworkFaults, runEpisode } from "./injectors.ts";
import { CONTENTION_LOCK_TIMEOUT_MS, KIND_SPECS, type KindName } from "./kinds.ts";
import type { KindResult } from "./kind_result.ts";
import type { FaultCluster } from "./pg_cluster.ts";
import { psqlChecked } from "./psql.ts";
import { accountsOf } from "./traders.ts";

/** The TCP proxy, as the controller uses it (tests/support/faults/tcp_proxy.ts). */
export interface ProxyHandle extends NetworkFaults {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a proxy in front of `host:port`. */
export type ProxyFactory = (host: string, port: number) => Promise<ProxyHandle>;

/** Options of one kind's run. */
export interface KindRunOptions extends LoadOptions {
  cluster: FaultCluster;
  /** Absent until the proxy module exists: network kinds are then skipped, and said so. */
  startProxy: ProxyFactory | undefined;
  log: (line: string) => void;
}

/** Longest burst of a continuous fault inside `mixed`. */
const MIXED_BURST_MS = 2_000;
/** Pause between episodes. */
const PAUSE_MIN_MS = 300;
const PAUSE_SPREAD_MS = 500;
const EPISODES_MAX = 100;

let databaseCounter = 0;

/** Runs `kind` (anything but failover) against `options.cluster`. */
export async function runKind(
  kind: Exclude<KindName, "failover">,
  options: KindRunOptions,
): Promise<KindResult> {
  const spec = KIND_SPECS[kind];
  const cluster = options.cluster;
  if (spec.needsProxy && options.startProxy === undefined && kind !== "mixed") {
    return {
      ...emptyResult(kind, cluster.label),
      skipped: "needs a TCP proxy (SuiteOptions.startProxy, see modules.ts)",
    };
  }
  // Without the proxy, mixed still runs every other kind of episode.
  const episodes = spec.episodes.filter((e) =>
    options.startProxy !== undefined || (e !== "reset" && e !== "blackhole")
  );
  const database = `faults_${kind.replaceAll("-", "_")}_${++databaseCounter}`;
  let proxy: ProxyHandle | undefined;
  try {
    await psqlChecked(adminTarget(cluster), [`CREATE DATABASE ${database}`]);
    if (spec.needsProxy && options.startProxy !== undefined) {
      proxy = await options.startProxy(cluster.host, cluster.port);
    }
    const accounts = Array.from({ length: options.clients }, (_, i) => accountsOf(i)).flat();
    return await runUnderFaults({
      kind,
      target: cluster.label,
      serverUrl: cluster.url(database, proxy?.port),
      serverArgs: spec.serverArgs,
      checkUrl: () => cluster.url(database),
      inject: async (run) => {
        const context = {
          cluster,
          database,
          proxy,
          random: run.random,
          symbols: SYMBOLS,
          accounts,
          lockHoldMs: CONTENTION_LOCK_TIMEOUT_MS * 2.5,
          stopped: run.stopped,
        };
        for (let i = 0; i < EPISODES_MAX && performance.now() < run.faultEnd && !run.dead(); i++) {
          const episode: EpisodeKind = episodes[Math.floor(run.random() * episodes.length)]!;
          const burstUntil = spec.continuous ? run.faultEnd : performance.now() + MIXED_BURST_MS;
          run.injected(await runEpisode(episode, context, burstUntil));
          const healed = performance.now();
          options.log(`  ${kind}: ${episode} episode ended; probing`);
          await run.probe(healed);
          await sleep(PAUSE_MIN_MS + run.random() * PAUSE_SPREAD_MS);
        }
      },
    }, options);
  } catch (error) {
    // Set-up failed (database, proxy): the kind did not run; it fails, saying why.
    const result = emptyResult(kind, cluster.label);
    result.checks.push({ name: "0 set-up", ok: false, detail: (error as Error).message });
    return result;
  } finally {
    await proxy?.close().catch(() => {});
    // Never leave the cluster read-only for the next kind, whatever happened above.
    await psqlChecked(adminTarget(cluster), [
      "ALTER SYSTEM RESET default_transaction_read_only",
      "SELECT pg_reload_conf()",
    ]).catch(() => {});
  }
}
