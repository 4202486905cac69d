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

/** Reads /proc and asks the tools for their versions. */
export async function machineInfo(options: {
  pgbench: string | undefined;
  /** The exchange's PostgreSQL's `version()`, once known. */
  postgres: string | undefined;
}): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryTotalMb: Math.round(Number(/MemTotal:\s+([0-9]+) kB/.exec(meminfo)?.[1] ?? "0") / 1024),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    postgres: options.postgres ?? "unknown",
    pgbench: options.pgbench ?? "not installed",
    taskset: (await commandLine("taskset", ["--version"])) !== undefined,
  };
}

/**
 * The kernel's load averages over 1, 5 and 15 minutes, or undefined off Linux. Other work on a
 * shared machine moves every figure (the 2 cores here are shared with other jobs), so the report
 * states it at the start and the end of the run.
 */
export async function loadAverage(): Promise<number[] | undefined> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => undefined);
  const fields = text?.split(" ").slice(0, 3).map(Number);
  return fields === undefined || fields.length < 3 || fields.some((x) => !Number.isFinite(x))
    ? undefined
    : fields;
}
