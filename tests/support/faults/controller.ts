/**
 * The part of every kind's run that does not depend on the fault: start the server process,
 * create the traders' accounts, run the 16 closed-loop clients while the kind's `inject` does its
 * work, then read the metrics, stop the server and run the checks. The server is stopped in
 * `finally`, whatever failed; the kind's own resources are its caller's.
 */
import { seededRandom } from "../../../scripts/support/seeded_random.ts";
import { checksConnection, runChecks } from "./checks.ts";
import { type KindResult, passed, serverNotes } from "./kind_result.ts";
import { Ledger } from "./ledger.ts";
import { timeToServedOrder } from "./probe.ts";
import { startServerUnderTest } from "./server_under_test.ts";
import { createTraderAccounts, runTraders } from "./traders.ts";

/** Symbols traded: few, so that orders of different clients meet. */
export const SYMBOLS = ["FA", "FB", "FC"] as const;
/** Load before the first fault, and fault-free time left at the end. */
const WARMUP_MS = 1_000;
const TAIL_MS = 1_500;

/** What a kind's `inject` may use while the load runs. */
export interface LiveRun {
  readonly port: number;
  readonly random: () => number;
  /** Faults should end by then (the load goes on a little longer). */
  readonly faultEnd: number;
  /** The server process has exited. */
  dead(): boolean;
  /** Time is up or the server died. */
  stopped(): boolean;
  /** Counts injected faults. */
  injected(count: number): void;
  /** Measures the time from `since` to the first served order, and keeps it for check 2. */
  probe(since: number): Promise<number | undefined>;
  /** An extra line for the report. */
  note(line: string): void;
}

/** What a kind brings to the common run. */
export interface RunPlan {
  kind: string;
  target: string;
  serverUrl: string;
  serverArgs: readonly string[];
  /** The database to check afterwards (failover: the promoted standby). */
  checkUrl: () => string;
  /** Injects the kind's faults; a throw is the controller's failure, reported as check 0. */
  inject: (run: LiveRun) => Promise<void>;
}

/** Options common to every kind. */
export interface LoadOptions {
  durationMs: number;
  clients: number;
  seed: number;
}

/** An empty result, filled in as the run goes. */
export function emptyResult(kind: string, target: string, ledger = new Ledger()): KindResult {
  return {
    kind,
    target,
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
}

/** Runs the load with `plan`'s faults and checks the outcome. */
export async function runUnderFaults(plan: RunPlan, options: LoadOptions): Promise<KindResult> {
  const started = performance.now();
  const ledger = new Ledger();
  const result = emptyResult(plan.kind, plan.target, ledger);
  const server = await startServerUnderTest(plan.serverUrl, plan.serverArgs).catch((error) => {
    result.checks.push({
      name: "0 server started",
      ok: false,
      detail: String(error).slice(0, 500),
    });
    return undefined;
  });
  if (server === undefined) {
    return result;
  }
  try {
    await createTraderAccounts(server.port, options.clients, SYMBOLS);
    const loadStart = performance.now();
    const stopAt = loadStart + options.durationMs;
    const dead = () => server.exit() !== undefined;
    const stopped = () => dead() || performance.now() >= stopAt;
    const traders = runTraders({
      ...options,
      port: server.port,
      symbols: SYMBOLS,
      ledger,
      stopped,
    });
    // Probe attempts still waiting for their answers; all are awaited before the checks.
    const probing: Promise<void>[] = [];
    const run: LiveRun = {
      port: server.port,
      random: seededRandom(options.seed),
      faultEnd: stopAt - TAIL_MS,
      dead,
      stopped,
      injected: (count) => result.faultsInjected += count,
      probe: async (since) => {
        const outcome = await timeToServedOrder(server.port, SYMBOLS[0], ledger, since, dead);
        probing.push(outcome.settled);
        result.recoveriesMs.push(outcome.ms);
        return outcome.ms;
      },
      note: (line) => result.extra.push(line),
    };
    await sleep(WARMUP_MS);
    try {
      await plan.inject(run);
    } catch (error) {
      // The controller could not inject or heal: the suite's fault, reported as such.
      result.checks.push({
        name: "0 controller injected and healed its faults",
        ok: false,
        detail: (error as Error).message.slice(0, 500),
      });
    }
    await traders;
    await Promise.all(probing);
    const exitedEarly = server.exit();
    const unhandledErrors = exitedEarly === undefined
      ? await server.unhandledErrors()
      : "not read (server exited)";
    // Stopped before the checks, so nothing is in flight while the database is read.
    const stopStatus = await server.stop();
    if (exitedEarly === undefined && stopStatus.code !== 0) {
      result.serverNotes.push(`SIGTERM'd server exited with code ${stopStatus.code}`);
    }
    const sql = checksConnection(plan.checkUrl());
    const checked = await runChecks(sql, ledger, {
      exitedEarly,
      recoveriesMs: result.recoveriesMs,
      unhandledErrors,
      stderr: server.child.stderr(),
    }).finally(() => sql.end({ timeout: 5 }).catch(() => {}));
    result.checks.push(...checked.results);
    result.doubts = checked.doubts;
  } catch (error) {
    result.checks.push({
      name: "0 run completed",
      ok: false,
      detail: (error as Error).message.slice(0, 500),
    });
  } finally {
    await server.stop().catch(() => {});
  }
  result.serverNotes.push(...serverNotes(server.child.stderr()));
  if (!passed(result) || Deno.env.get("FAULTS_KEEP_LOGS") === "1") {
    result.serverNotes.push(
      `whole stderr kept in ${await keepLog(plan.kind, server.child.stderr())}`,
    );
  }
  result.maxLatencyMs = ledger.maxLatencyMs;
  result.wallMs = performance.now() - started;
  return result;
}

let logDir: Promise<string> | undefined;

/** Writes a failed kind's server stderr to a kept file (one directory per run); its path. */
async function keepLog(kind: string, stderr: string): Promise<string> {
  logDir ??= Deno.makeTempDir({ prefix: "exchange-faults-logs-" });
  const file = `${await logDir}/${kind}-server-stderr.log`;
  await Deno.writeTextFile(file, stderr);
  return file;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
