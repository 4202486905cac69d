/**
 * The controller of one kind: a fresh database on the cluster, a fresh server process (through
 * the TCP proxy for network faults), 16 trading clients, and the kind's fault episodes one after
 * another, each followed by the recovery probe; then the server is stopped and the checks run.
 * Everything it started is stopped in `finally`, whatever failed.
 */
import { seededRandom } from "../seeded_random.ts";
import { runChecks } from "./checks.ts";
import { adminTarget, type EpisodeKind, type NetworkFaults, runEpisode } from "./injectors.ts";
import { CONTENTION_LOCK_TIMEOUT_MS, KIND_SPECS, type KindName } from "./kinds.ts";
import { type KindResult, serverNotes } from "./kind_result.ts";
import { Ledger } from "./ledger.ts";
import type { FaultCluster } from "./pg_cluster.ts";
import { timeToServedOrder } from "./probe.ts";
import { psqlChecked } from "./psql.ts";
import { type ServerUnderTest, startServerUnderTest } from "./server_under_test.ts";
import { accountsOf, createTraderAccounts, runTraders } from "./traders.ts";

/** The TCP proxy, as the controller uses it (tests/support/faults/tcp_proxy.ts). */
export interface ProxyHandle extends NetworkFaults {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a proxy in front of `host:port`. */
export type ProxyFactory = (host: string, port: number) => Promise<ProxyHandle>;

/** Options of one kind's run. */
export interface KindRunOptions {
  cluster: FaultCluster;
  durationMs: number;
  clients: number;
  seed: number;
  /** Absent until the proxy module exists: network kinds are then skipped, and said so. */
  startProxy: ProxyFactory | undefined;
  log: (line: string) => void;
}

/** Symbols traded: few, so that orders of different clients meet. */
export const SYMBOLS = ["FA", "FB", "FC"] as const;
/** Load before the first fault, and fault-free time left at the end. */
const WARMUP_MS = 1_000;
const TAIL_MS = 1_500;
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
  const started = performance.now();
  const spec = KIND_SPECS[kind];
  const ledger = new Ledger();
  const result: KindResult = {
    kind,
    target: options.cluster.label,
    wallMs: 0,
    faultsInjected: 0,
    counts: ledger.counts,
    doubts: { committed: 0, notCommitted: 0 },
    maxLatencyMs: 0,
    recoveriesMs: [],
    checks: [],
    serverNotes: [],
    extra: [],
  };
  const episodes = spec.episodes.filter((e) =>
    options.startProxy !== undefined || (e !== "reset" && e !== "blackhole")
  );
  if (spec.needsProxy && options.startProxy === undefined && kind !== "mixed") {
    result.skipped = "needs tests/support/faults/tcp_proxy.ts (branch fault-net)";
    return result;
  }
  const database = `faults_${kind.replaceAll("-", "_")}_${++databaseCounter}`;
  const cluster = options.cluster;
  let proxy: ProxyHandle | undefined;
  let server: ServerUnderTest | undefined;
  try {
    await psqlChecked(adminTarget(cluster), [`CREATE DATABASE ${database}`]);
    if (spec.needsProxy && options.startProxy !== undefined) {
      proxy = await options.startProxy(cluster.host, cluster.port);
    }
    server = await startServerUnderTest(cluster.url(database, proxy?.port), spec.serverArgs);
    const running = server;
    await createTraderAccounts(running.port, options.clients, SYMBOLS);
    const random = seededRandom(options.seed);
    const loadStart = performance.now();
    const stopAt = loadStart + options.durationMs;
    const dead = () => running.exit() !== undefined;
    const stopped = () => dead() || performance.now() >= stopAt;
    const traders = runTraders({
      port: running.port,
      clients: options.clients,
      symbols: SYMBOLS,
      seed: options.seed,
      ledger,
      stopped,
    });
    const context = {
      cluster,
      database,
      proxy,
      random,
      symbols: SYMBOLS,
      accounts: Array.from({ length: options.clients }, (_, i) => accountsOf(i)).flat(),
      lockHoldMs: CONTENTION_LOCK_TIMEOUT_MS * 2.5,
      stopped,
    };
    const faultEnd = stopAt - TAIL_MS;
    await sleep(WARMUP_MS);
    for (let i = 0; i < EPISODES_MAX && performance.now() < faultEnd && !dead(); i++) {
      const episode: EpisodeKind = episodes[Math.floor(random() * episodes.length)]!;
      const burstUntil = spec.continuous ? faultEnd : performance.now() + MIXED_BURST_MS;
      try {
        result.faultsInjected += await runEpisode(episode, context, burstUntil);
      } catch (error) {
        // The controller could not inject or heal: the suite's fault, reported as such.
        result.checks.push({
          name: "0 controller injected and healed its faults",
          ok: false,
          detail: `${episode}: ${(error as Error).message}`,
        });
        break;
      }
      const healed = performance.now();
      options.log(`  ${kind}: ${episode} episode ended; probing`);
      result.recoveriesMs.push(
        await timeToServedOrder(running.port, SYMBOLS[0], ledger, healed, dead),
      );
      await sleep(PAUSE_MIN_MS + random() * PAUSE_SPREAD_MS);
    }
    await traders;
    const exitedEarly = running.exit();
    const unhandledErrors = exitedEarly === undefined
      ? await running.unhandledErrors()
      : "not read (server exited)";
    const stopStatus = await running.stop();
    if (exitedEarly === undefined && stopStatus.code !== 0) {
      result.serverNotes.push(`SIGTERM'd server exited with code ${stopStatus.code}`);
    }
    const checked = await runChecks(cluster.url(database), ledger, {
      exitedEarly,
      recoveriesMs: result.recoveriesMs,
      unhandledErrors,
      stderr: running.child.stderr(),
    });
    result.checks.push(...checked.results);
    result.doubts = checked.doubts;
  } catch (error) {
    result.checks.push({
      name: "0 run completed",
      ok: false,
      detail: (error as Error).message.slice(0, 500),
    });
  } finally {
    await server?.stop().catch(() => {});
    await proxy?.close().catch(() => {});
    // Never leave the cluster read-only for the next kind, whatever happened above.
    await psqlChecked(adminTarget(cluster), [
      "ALTER SYSTEM RESET default_transaction_read_only",
      "SELECT pg_reload_conf()",
    ]).catch(() => {});
  }
  result.serverNotes.push(...serverNotes(server?.child.stderr() ?? ""));
  result.maxLatencyMs = ledger.maxLatencyMs;
  result.wallMs = performance.now() - started;
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
