/** Runs pgbench (TPC-B and select-only) against the server's own PostgreSQL as the yardstick. */

/** How pgbench reaches the embedded cluster: its Unix socket directory, trust auth. */
export interface PgTarget {
  socketDir: string;
  port: number;
  user: string;
  database: string;
}

/** The two standard pgbench scripts we compare against. */
export type PgbenchMode = "tpcb" | "select";

/** Outcome of one pgbench run. */
export interface PgbenchResult {
  tps: number;
  latencyAvgMs: number;
  failed: number;
}

const decoder = new TextDecoder();

async function run(args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("pgbench", {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // pgbench itself honours -T, but a wedged database must not wedge the bench.
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, timeoutMs);
  try {
    const output = await child.output();
    return {
      code: output.code,
      out: decoder.decode(output.stdout) + decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

function connectionArgs(target: PgTarget): string[] {
  return ["-h", target.socketDir, "-p", String(target.port), "-U", target.user];
}

/** pgbench's version line, or undefined when pgbench is not installed. */
export async function pgbenchVersion(): Promise<string | undefined> {
  try {
    const { code, out } = await run(["--version"], 10_000);
    return code === 0 ? out.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the pgbench tables (schema public, beside the exchange's own schema) at `scale`.
 * Server-side generation is the fastest; the separate vacuum step is skipped to save time
 * (about a quarter of the init) — the runs use -n, so nothing else expects it.
 */
export async function pgbenchInit(target: PgTarget, scale: number): Promise<number> {
  const started = performance.now();
  const { code, out } = await run(
    [...connectionArgs(target), "-i", "-q", "-I", "dtGp", "-s", String(scale), target.database],
    600_000,
  );
  if (code !== 0) {
    throw new Error(`pgbench -i failed: ${out.trim()}`);
  }
  return (performance.now() - started) / 1000;
}

/** One timed pgbench run with `clients` connections; -T takes whole seconds. */
export async function pgbenchRun(
  target: PgTarget,
  options: { mode: PgbenchMode; clients: number; seconds: number; threads: number },
): Promise<PgbenchResult> {
  const args = [
    ...connectionArgs(target),
    "-n",
    ...(options.mode === "select" ? ["-S"] : []),
    "-c",
    String(options.clients),
    "-j",
    String(Math.max(1, Math.min(options.threads, options.clients))),
    "-T",
    String(options.seconds),
    target.database,
  ];
  const { code, out } = await run(args, options.seconds * 1000 + 60_000);
  const tps = /tps = ([0-9.]+)/.exec(out)?.[1];
  if (code !== 0 || tps === undefined) {
    throw new Error(`pgbench ${args.join(" ")} failed: ${out.trim().slice(-500)}`);
  }
  return {
    tps: Number(tps),
    latencyAvgMs: Number(/latency average = ([0-9.]+) ms/.exec(out)?.[1] ?? "0"),
    failed: Number(/number of failed transactions: ([0-9]+)/.exec(out)?.[1] ?? "0"),
  };
}
