/**
 * Runs pgbench (TPC-B and select-only) against the server's own PostgreSQL as the yardstick.
 * Always with prepared statements (`-M prepared`): postgres.js prepares the statements of the
 * server's order path (its tagged templates), and pgbench's default simple protocol parses and
 * plans each one again (on one cluster here TPC-B gave 5,632-5,641 tps prepared against
 * 4,316-4,496 simple), so a ratio against the simple protocol flattered the server by about a
 * quarter.
 */
import type { SocketTarget } from "../../src/db/embedded_target.ts";

/**
 * How pgbench reaches its database: the embedded cluster's Unix socket (trust auth), or a
 * libpq connection URI for an external PostgreSQL (pgbench reads a URI where the database
 * name goes).
 */
export type PgTarget = SocketTarget | { kind: "url"; url: string };

/** The query protocol every pgbench run uses (`-M`). */
export const PGBENCH_PROTOCOL = "prepared";

/** The two standard pgbench scripts we compare against. */
export type PgbenchMode = "tpcb" | "select";

/** Outcome of one pgbench run. */
export interface PgbenchResult {
  tps: number;
  latencyAvgMs: number;
  failed: number;
  /** With `progressSeconds`: tps in each interval, in order (pgbench's `-P` lines). */
  progress: number[];
}

const decoder = new TextDecoder();

async function run(
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("pgbench", {
    args,
    env,
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

/**
 * The options that reach `target`, the database argument that ends the command line, and the
 * environment: a URL's password goes to PGPASSWORD, so that it never shows in a process list
 * (nor in the error message that quotes the command line).
 */
function connectionArgs(
  target: PgTarget,
): { options: string[]; database: string; env: Record<string, string> } {
  if (target.kind === "url") {
    const url = new URL(target.url);
    const password = decodeURIComponent(url.password);
    url.password = "";
    return {
      options: [],
      database: url.toString(),
      env: password === "" ? {} : { PGPASSWORD: password },
    };
  }
  return {
    options: ["-h", target.socketDir, "-p", String(target.port), "-U", target.user],
    database: target.database,
    env: {},
  };
}

const PROGRESS_LINE = /^progress: [0-9.]+ s, ([0-9.]+) tps/gm;

/** The tps of each `-P` progress line of pgbench's output. */
export function parseProgress(out: string): number[] {
  return [...out.matchAll(PROGRESS_LINE)].map((m) => Number(m[1]));
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
  const connection = connectionArgs(target);
  const { code, out } = await run(
    [...connection.options, "-i", "-q", "-I", "dtGp", "-s", String(scale), connection.database],
    600_000,
    connection.env,
  );
  if (code !== 0) {
    throw new Error(`pgbench -i failed: ${out.trim()}`);
  }
  return (performance.now() - started) / 1000;
}

/** How long one pgbench run lasts: whole seconds (`-T`), or transactions per client (`-t`). */
export type PgbenchLength = { seconds: number } | { transactionsPerClient: number };

/** Longest a run of `-t` transactions may take before it counts as wedged. */
const TRANSACTIONS_RUN_TIMEOUT_MS = 120_000;

/**
 * One pgbench run with `clients` connections, prepared statements and no vacuum (`-n`).
 * `progressSeconds` adds `-P`: the tps of every interval comes back in `progress`.
 */
export async function pgbenchRun(
  target: PgTarget,
  options: {
    mode: PgbenchMode;
    clients: number;
    length: PgbenchLength;
    threads: number;
    progressSeconds?: number;
  },
): Promise<PgbenchResult> {
  const connection = connectionArgs(target);
  const length = options.length;
  const args = [
    ...connection.options,
    "-n",
    "-M",
    PGBENCH_PROTOCOL,
    ...(options.mode === "select" ? ["-S"] : []),
    "-c",
    String(options.clients),
    "-j",
    String(Math.max(1, Math.min(options.threads, options.clients))),
    ...("seconds" in length
      ? ["-T", String(length.seconds)]
      : ["-t", String(length.transactionsPerClient)]),
    ...(options.progressSeconds === undefined ? [] : ["-P", String(options.progressSeconds)]),
    connection.database,
  ];
  const { code, out } = await run(
    args,
    "seconds" in length ? length.seconds * 1000 + 60_000 : TRANSACTIONS_RUN_TIMEOUT_MS,
    connection.env,
  );
  const tps = /tps = ([0-9.]+)/.exec(out)?.[1];
  if (code !== 0 || tps === undefined) {
    throw new Error(`pgbench ${args.join(" ")} failed: ${out.trim().slice(-500)}`);
  }
  return {
    tps: Number(tps),
    latencyAvgMs: Number(/latency average = ([0-9.]+) ms/.exec(out)?.[1] ?? "0"),
    failed: Number(/number of failed transactions: ([0-9]+)/.exec(out)?.[1] ?? "0"),
    progress: parseProgress(out),
  };
}
