/** The machine and software versions the report states. */

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
  pgSocketDir: string | undefined;
}): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  let postgres = "unknown";
  if (options.pgSocketDir !== undefined) {
    postgres = await commandLine("psql", [
      "-h",
      options.pgSocketDir,
      "-p",
      "5432",
      "-U",
      "postgres",
      "-d",
      "exchange",
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
