/** The machine and software versions the report states. */
import type { SocketTarget } from "../../src/db/embedded_target.ts";

/** What the run ran on. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryTotalMb: number;
  kernel: string;
  deno: string;
  v8: string;
  typescript: string;
  postgres: string;
  pgbench: string;
  taskset: boolean;
}

async function commandLine(program: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(program, {
      args,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.code === 0 ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Reads /proc and asks the tools for their versions; `psql` (if present) asks the server. */
export async function machineInfo(options: {
  pgbench: string | undefined;
  /** The exchange's PostgreSQL, asked for its version with `psql`. */
  pg: SocketTarget | undefined;
}): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  let postgres = "unknown";
  if (options.pg !== undefined) {
    postgres = await commandLine("psql", [
      "-h",
      options.pg.socketDir,
      "-p",
      String(options.pg.port),
      "-U",
      options.pg.user,
      "-d",
      options.pg.database,
      "-Atc",
      "select version()",
    ]) ?? "unknown (psql not available)";
  }
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryTotalMb: Math.round(Number(/MemTotal:\s+([0-9]+) kB/.exec(meminfo)?.[1] ?? "0") / 1024),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    postgres,
    pgbench: options.pgbench ?? "not installed",
    taskset: (await commandLine("taskset", ["--version"])) !== undefined,
  };
}
