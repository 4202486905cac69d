/** CPU time and memory of the server and its PostgreSQL, read from /proc (Linux only). */
import { join } from "node:path";
import { locateCluster } from "../../src/db/cluster_location.ts";
import { runningPostmasterPid } from "../../src/db/embedded_postgres.ts";

/** Kernel clock ticks per second; 100 on every mainstream Linux build. */
const CLK_TCK = 100;

interface StatFields {
  ppid: number;
  /** utime + stime of the process itself, in ticks. */
  own: number;
  /** cutime + cstime: time of children it has waited for, in ticks. */
  reaped: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses; fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(rest[n - 3] ?? 0);
  return { ppid: field(4), own: field(14) + field(15), reaped: field(16) + field(17) };
}

/** The postmaster's pid, if PostgreSQL is running on `<dataDir>`. */
export const postmasterPid = runningPostmasterPid;

/** The directory holding PostgreSQL's Unix socket (line 5 of postmaster.pid). */
export function postgresSocketDir(dataDir: string): string | undefined {
  try {
    const pidFile = join(locateCluster(dataDir).clusterDir, "postmaster.pid");
    return Deno.readTextFileSync(pidFile).split("\n")[4]?.trim() ||
      undefined;
  } catch {
    return undefined;
  }
}

/** Seconds of CPU used so far by `pid` (all its threads). */
export function processCpuSeconds(pid: number): number {
  return (readStat(pid)?.own ?? 0) / CLK_TCK;
}

/** Pids of the live (or not yet reaped) children of `parent`, with their stat fields. */
function children(parent: number): Array<{ pid: number; stat: StatFields }> {
  const found: Array<{ pid: number; stat: StatFields }> = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry.name)) {
      continue;
    }
    const pid = Number(entry.name);
    const stat = readStat(pid);
    if (stat?.ppid === parent) {
      found.push({ pid, stat });
    }
  }
  return found;
}

/**
 * Seconds of CPU used so far by a postmaster and all its backends. Live children are read one
 * by one; exited ones have moved into the postmaster's cutime, so the sum never jumps back.
 * A backend that has exited but is not yet reaped is in neither: see `awaitBackendsReaped`.
 */
export function postgresCpuSeconds(postmaster: number): number {
  const root = readStat(postmaster);
  if (root === undefined) {
    return 0;
  }
  let ticks = root.own + root.reaped;
  for (const child of children(postmaster)) {
    ticks += child.stat.own;
  }
  return ticks / CLK_TCK;
}

/** The postmaster's children now (its backends and helpers). */
export function postgresChildPids(postmaster: number): Set<number> {
  return new Set(children(postmaster).map((c) => c.pid));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (at most `timeoutMs`) until every child of the postmaster that is not in `before` has
 * been reaped. The backends of a client that just disconnected (pgbench) still exit for a few
 * milliseconds, and until the postmaster reaps them their CPU is counted nowhere: measured here,
 * a 2 s pgbench run showed a quarter of its PostgreSQL CPU only after a second.
 */
export async function awaitBackendsReaped(
  postmaster: number,
  before: Set<number>,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ([...postgresChildPids(postmaster)].every((pid) => before.has(pid))) {
      return;
    }
    await sleep(20);
  }
}

/** Resident memory of `pid` in bytes (VmRSS), or undefined if it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+([0-9]+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of the server, PostgreSQL and this bench process, sampled at one instant. */
export interface CpuSample {
  atMs: number;
  server: number;
  postgres: number;
  client: number;
}

/** Samples CPU counters; missing pids count as zero. */
export function sampleCpu(
  serverPid: number | undefined,
  postmaster: number | undefined,
): CpuSample {
  return {
    atMs: performance.now(),
    server: serverPid === undefined ? 0 : processCpuSeconds(serverPid),
    postgres: postmaster === undefined ? 0 : postgresCpuSeconds(postmaster),
    client: processCpuSeconds(Deno.pid),
  };
}

/** CPU use between two samples, in percent of one core (200 = two cores busy). */
export function cpuPercent(
  a: CpuSample,
  b: CpuSample,
): { server: number; postgres: number; client: number } {
  const seconds = Math.max(1e-3, (b.atMs - a.atMs) / 1000);
  return {
    server: (100 * (b.server - a.server)) / seconds,
    postgres: (100 * (b.postgres - a.postgres)) / seconds,
    client: (100 * (b.client - a.client)) / seconds,
  };
}
