/**
 * The faults themselves, one function per kind of episode: each injects, waits, heals (in a
 * `finally`, so a failing step never leaves PostgreSQL read-only or the network black-holed) and
 * returns how many faults it injected. Every loop is bounded by a deadline and a count.
 */
import type { FaultCluster } from "./pg_cluster.ts";
import { psql, psqlChecked, type PsqlTarget } from "./psql.ts";

/** What the network faults need of the TCP proxy between the server and PostgreSQL. */
export interface NetworkFaults {
  resetRandom(count?: number): number;
  blackhole(): void;
  heal(): void;
}

/** A kind of episode the controller can run. */
export type EpisodeKind =
  | "terminate"
  | "readonly"
  | "restart-fast"
  | "restart-immediate"
  | "reset"
  | "blackhole"
  | "contention";

/** What an episode may touch. */
export interface FaultContext {
  cluster: FaultCluster;
  /** The server's database (its backends are the terminate fault's targets). */
  database: string;
  proxy: NetworkFaults | undefined;
  random: () => number;
  symbols: readonly string[];
  /** Trader accounts, whose rows the contention fault locks. */
  accounts: readonly string[];
  /** How long the contention fault holds its lock: past the server's lock timeout. */
  lockHoldMs: number;
  /** True once the run must end (time is up, or the server died). */
  stopped(): boolean;
}

/** How long a read-only period and a blackhole last. */
const READONLY_MS = 2_000;
const BLACKHOLE_MS = 3_000;
/** Pause between two terminations or resets: 50-200 ms (psql adds ~30 ms), 5-8 faults a second. */
const BURST_PAUSE_MIN_MS = 50;
const BURST_PAUSE_SPREAD_MS = 150;
/** No burst sends more than this many faults, whatever the deadline. */
const BURST_FAULTS_MAX = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The controller's psql session, on the maintenance database (never the server's). */
export function adminTarget(cluster: FaultCluster): PsqlTarget {
  return { host: cluster.host, port: cluster.port, user: cluster.user, database: "postgres" };
}

/** Runs one episode of `kind`; bursts (terminate, reset) last until `burstUntil`. */
export function runEpisode(
  kind: EpisodeKind,
  context: FaultContext,
  burstUntil: number,
): Promise<number> {
  switch (kind) {
    case "terminate":
      return burst(context, burstUntil, () => terminateOne(context));
    case "reset":
      return burst(context, burstUntil, () => Promise.resolve(proxyOf(context).resetRandom(1)));
    case "readonly":
      return readOnlyPeriod(context);
    case "restart-fast":
      return restart(context, "fast");
    case "restart-immediate":
      return restart(context, "immediate");
    case "blackhole":
      return blackhole(context);
    case "contention":
      return holdLock(context);
  }
}

/** Repeats `inject` every 100-300 ms until the deadline; returns the faults it reported. */
async function burst(
  context: FaultContext,
  until: number,
  inject: () => Promise<number>,
): Promise<number> {
  let injected = 0;
  for (let i = 0; i < BURST_FAULTS_MAX && performance.now() < until && !context.stopped(); i++) {
    injected += await inject();
    await sleep(BURST_PAUSE_MIN_MS + context.random() * BURST_PAUSE_SPREAD_MS);
  }
  return injected;
}

/**
 * Terminates one random backend of the server (application_name `exchange-...`, set by the
 * server for its order pool and its HTTP side) in the server's database.
 */
async function terminateOne(context: FaultContext): Promise<number> {
  const database = context.database.replaceAll("'", "''");
  const result = await psql(adminTarget(context.cluster), [
    `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
     WHERE datname = '${database}' AND application_name LIKE 'exchange-%'
       AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1) AS t WHERE done`,
  ]);
  return result.code === 0 ? Number(result.stdout.trim()) || 0 : 0;
}

/** As after a failover to a demoted primary: every new transaction is read-only for a while. */
async function readOnlyPeriod(context: FaultContext): Promise<number> {
  const admin = adminTarget(context.cluster);
  try {
    await psqlChecked(admin, [
      "ALTER SYSTEM SET default_transaction_read_only = on",
      "SELECT pg_reload_conf()",
    ]);
    await sleep(READONLY_MS);
  } finally {
    await psqlChecked(admin, [
      "ALTER SYSTEM RESET default_transaction_read_only",
      "SELECT pg_reload_conf()",
    ]);
  }
  return 1;
}

/** PostgreSQL stopped (`fast`: sessions rolled back; `immediate`: a crash) and started again. */
async function restart(context: FaultContext, mode: "fast" | "immediate"): Promise<number> {
  try {
    await context.cluster.stop(mode);
  } finally {
    await context.cluster.start();
  }
  return 1;
}

/** The proxy stops forwarding without closing anything, then forwards again. */
async function blackhole(context: FaultContext): Promise<number> {
  const proxy = proxyOf(context);
  proxy.blackhole();
  try {
    await sleep(BLACKHOLE_MS);
  } finally {
    proxy.heal();
  }
  return 1;
}

/**
 * An outside session holds a row every order of a book (or of an account) must lock, for longer
 * than the server's lock timeout: the server's waits must end in answers that say nothing
 * happened, and the book must serve again once the session lets go.
 */
async function holdLock(context: FaultContext): Promise<number> {
  const pick = <T>(items: readonly T[]) => items[Math.floor(context.random() * items.length)]!;
  const row = context.random() < 0.5
    ? `SELECT sym FROM exchange.symbols WHERE sym = '${pick(context.symbols)}' FOR UPDATE;`
    : `SELECT id FROM exchange.accounts WHERE id = '${pick(context.accounts)}' FOR UPDATE;`;
  const seconds = (context.lockHoldMs / 1000).toFixed(3);
  await psqlChecked(
    { ...adminTarget(context.cluster), database: context.database },
    [],
    {
      script: `BEGIN;\n${row}\nSELECT pg_sleep(${seconds});\nCOMMIT;\n`,
      timeoutMs: context.lockHoldMs + 10_000,
    },
  );
  return 1;
}

function proxyOf(context: FaultContext): NetworkFaults {
  if (context.proxy === undefined) {
    throw new Error("A network fault needs the TCP proxy between the server and PostgreSQL");
  }
  return context.proxy;
}
