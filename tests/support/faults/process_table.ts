/**
 * Test support: the processes of a PostgreSQL cluster as Linux's /proc shows them, for fault
 * tests that kill servers and must leave nothing running afterwards.
 *
 * A process is named by its pid and its start time together: a killed postmaster's backends
 * exit on their own, and their pids may belong to unrelated processes by the time a cleanup
 * looks again, so nothing is signalled unless both still match. A zombie counts as gone: it
 * runs no code and holds no port, only an exit status nobody may ever collect (the pair's
 * postmasters are children of pid 1 once `pg_ctl` has exited).
 */
import { join } from "node:path";

/** One process: a pid with the start time that tells it from a later process with that pid. */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. */
  started: string;
}

/** Reads and signals the processes of PostgreSQL clusters through /proc. */
export class ProcessTable {
  /** The running postmaster of `clusterDir`: its pid file names a postgres started for it. */
  static postmaster(clusterDir: string): ProcessId | undefined {
    try {
      const pidFile = Deno.readTextFileSync(join(clusterDir, "postmaster.pid"));
      const pid = Number(pidFile.split("\n")[0]);
      // A stale pid file (after SIGKILL) may name a pid that another process has taken.
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      const process = ProcessTable.identify(pid);
      return process !== undefined && cmdline.includes(clusterDir) ? process : undefined;
    } catch {
      return undefined;
    }
  }

  /** The running process with this pid, if any. */
  static identify(pid: number): ProcessId | undefined {
    const started = statField(pid, 22);
    return started === undefined || statField(pid, 3) === "Z" ? undefined : { pid, started };
  }

  /** The running processes whose parent is `parent` (a postmaster's backends). */
  static children(parent: ProcessId): ProcessId[] {
    const children: ProcessId[] = [];
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^[0-9]+$/.test(entry.name) || statField(Number(entry.name), 4) !== `${parent.pid}`) {
        continue;
      }
      const child = ProcessTable.identify(Number(entry.name));
      if (child !== undefined) {
        children.push(child);
      }
    }
    return children;
  }

  /** True while this very process runs. */
  static alive(process: ProcessId): boolean {
    return ProcessTable.identify(process.pid)?.started === process.started;
  }

  /** SIGKILLs the process if it is still the same one; never throws. */
  static kill(process: ProcessId): void {
    if (!ProcessTable.alive(process)) {
      return;
    }
    try {
      Deno.kill(process.pid, "SIGKILL");
    } catch {
      // It exited between the check and the signal.
    }
  }
}

/** Field `n` (1-based, as proc(5) numbers them) of /proc/<pid>/stat. */
function statField(pid: number, n: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 2, the command name in parentheses, may hold spaces and parentheses: count the
    // fields after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return n <= 2 ? undefined : rest[n - 3];
  } catch {
    return undefined;
  }
}
