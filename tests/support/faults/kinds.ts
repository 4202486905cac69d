/**
 * The kinds of fault a run can inject, and what each needs: the TCP proxy between the server and
 * PostgreSQL, smaller server timeouts, a replica pair. One table, read by the controller, the
 * script's `--kinds` option and the short test.
 */
import type { EpisodeKind } from "./injectors.ts";

/** Every kind, in the order a full run takes them. */
export const KINDS = [
  "terminate",
  "readonly",
  "restart-fast",
  "restart-immediate",
  "reset",
  "blackhole",
  "contention",
  "failover",
  "mixed",
] as const;

/** The name of a kind. */
export type KindName = typeof KINDS[number];

/**
 * The server's lock and statement timeouts where locks are held against it (contention, mixed):
 * small, so that a held lock outlasts them within a short run. The outside session holds its lock
 * 2.5x the lock timeout.
 */
export const CONTENTION_LOCK_TIMEOUT_MS = 1_000;
const CONTENTION_SERVER_ARGS = [
  "--lock-timeout-ms",
  String(CONTENTION_LOCK_TIMEOUT_MS),
  "--statement-timeout-ms",
  "2000",
];

/** How a kind is run. */
export interface KindSpec {
  /** The episodes it draws from (mixed: all the cheap ones, at random). */
  episodes: readonly EpisodeKind[];
  /** True if one burst lasts the whole fault window (terminate, reset). */
  continuous: boolean;
  needsProxy: boolean;
  serverArgs: readonly string[];
}

/** The episodes of `mixed`: every kind but itself and failover; the network ones join when the proxy is there. */
const MIXED_EPISODES = KINDS.filter((kind): kind is EpisodeKind =>
  kind !== "failover" && kind !== "mixed"
);

/** How each kind except failover (which has its own controller, failover_run.ts) runs. */
export const KIND_SPECS: Record<Exclude<KindName, "failover">, KindSpec> = {
  terminate: { episodes: ["terminate"], continuous: true, needsProxy: false, serverArgs: [] },
  readonly: { episodes: ["readonly"], continuous: false, needsProxy: false, serverArgs: [] },
  "restart-fast": {
    episodes: ["restart-fast"],
    continuous: false,
    needsProxy: false,
    serverArgs: [],
  },
  "restart-immediate": {
    episodes: ["restart-immediate"],
    continuous: false,
    needsProxy: false,
    serverArgs: [],
  },
  reset: { episodes: ["reset"], continuous: true, needsProxy: true, serverArgs: [] },
  blackhole: { episodes: ["blackhole"], continuous: false, needsProxy: true, serverArgs: [] },
  contention: {
    episodes: ["contention"],
    continuous: false,
    needsProxy: false,
    serverArgs: CONTENTION_SERVER_ARGS,
  },
  mixed: {
    episodes: MIXED_EPISODES,
    continuous: false,
    needsProxy: true,
    serverArgs: CONTENTION_SERVER_ARGS,
  },
};

/** Parses `a,b,c` into kinds; throws a RangeError naming an unknown one. */
export function parseKinds(text: string): KindName[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of names) {
    if (!(KINDS as readonly string[]).includes(name)) {
      throw new RangeError(`Unknown fault kind ${name}: expected some of ${KINDS.join(", ")}`);
    }
  }
  return names as KindName[];
}
