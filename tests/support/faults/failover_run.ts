/**
 * The failover kind: a primary with a synchronous standby (streaming replication), the server
 * given both hosts (`target_session_attrs=read-write`); mid-load the primary is killed with -9
 * and the standby promoted, as Patroni or pg_auto_failover would. Prints the time from the kill
 * to the first served order. The replica pair is stopped in `finally`.
 */
import { emptyResult, type LoadOptions, runUnderFaults } from "./controller.ts";
import { reachableDirectory } from "./external_cluster.ts";
import type { KindResult } from "./kind_result.ts";

/** What failover needs of tests/support/faults/replica_pair.ts. */
export interface ReplicaPairLike {
  readonly primaryPort: number;
  readonly standbyPort: number;
  readonly user: string;
  /** Both hosts, `target_session_attrs=read-write`. */
  url(): string;
  killPrimary(): void | Promise<void>;
  /** Promotes the standby; resolves with how long promotion took (ms). */
  promoteStandby(): Promise<number>;
  stop(): void | Promise<void>;
}

/** Starts a pair serving `database`. */
export type ReplicaPairFactory = (
  options: { dir: string; database: string },
) => Promise<ReplicaPairLike>;

const DATABASE = "faults_failover";
/** The primary is killed this far into the fault window. */
const KILL_AT_FRACTION = 0.3;

/** Runs the failover kind on a new replica pair. */
export async function runFailover(
  startPair: ReplicaPairFactory,
  options: LoadOptions,
): Promise<KindResult> {
  const target = "primary + synchronous standby (PostgreSQL 15)";
  let pair: ReplicaPairLike | undefined;
  let dir: string | undefined;
  try {
    dir = await reachableDirectory(Deno.uid() === 0);
    pair = await startPair({ dir, database: DATABASE });
    const started = pair;
    return await runUnderFaults({
      kind: "failover",
      target,
      serverUrl: started.url(),
      serverArgs: [],
      checkUrl: () => `postgres://${started.user}@127.0.0.1:${started.standbyPort}/${DATABASE}`,
      inject: async (run) => {
        const killAt = performance.now() +
          Math.max(0, (run.faultEnd - performance.now()) * KILL_AT_FRACTION);
        while (performance.now() < killAt && !run.stopped()) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const killed = performance.now();
        await started.killPrimary();
        run.injected(1);
        const promoteMs = await started.promoteStandby();
        const promoted = performance.now();
        // Check 2 counts from the promotion (the fault's end); the kill-to-order time is the
        // number an operator asks for.
        const sincePromotion = await run.probe(promoted);
        const killToServed = sincePromotion === undefined
          ? undefined
          : promoted - killed + sincePromotion;
        run.note(
          `failover: promote took ${Math.round(promoteMs)} ms; kill to first served order ${
            killToServed === undefined
              ? "never (15 s after promotion)"
              : `${Math.round(killToServed)} ms`
          }`,
        );
      },
    }, options);
  } catch (error) {
    const result = emptyResult("failover", target);
    result.checks.push({ name: "0 set-up", ok: false, detail: (error as Error).message });
    return result;
  } finally {
    await Promise.resolve(pair?.stop()).catch(() => {});
    if (dir !== undefined) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}
