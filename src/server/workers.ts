/**
 * `--workers N`: a supervisor process owns the database (starts the embedded cluster, migrates,
 * stops it at the end) and runs N worker processes of `main.ts` that listen on the same port
 * with SO_REUSEPORT, so that the kernel spreads connections across them (and across cores).
 * The total of database connections stays bounded: each worker gets an equal share.
 */

import { denoRunFlags } from "./deno_run_flags.ts";
import { awaitReadyLine } from "./ready_line.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Most times a crashed worker is started again before the supervisor gives up on it. */
const WORKER_RESTARTS_MAX = 10;
const READY_TIMEOUT_MS = 60_000;

/** Options of the supervisor that workers must not inherit. */
const SUPERVISOR_ONLY = new Set([
  "--workers",
  "--reset",
  "--port",
  "--pool-size",
  "--host",
  "--http-port",
  "--http-host",
]);

/** Each worker's share of the pool: at least one connection. */
export function poolShare(poolSize: number, workers: number): number {
  return Math.max(1, Math.floor(poolSize / workers));
}

/** The command-line arguments for a worker: the supervisor's, minus what only it may do. */
export function workerArgs(
  args: readonly string[],
  host: string,
  port: number,
  pool: number,
): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name] = arg.split("=", 1);
    if (SUPERVISOR_ONLY.has(name!)) {
      const takesValue = name !== "--reset" && !arg.includes("=");
      if (takesValue) {
        i++;
      }
      continue;
    }
    kept.push(arg);
  }
  // The supervisor serves HTTP for the whole exchange; a worker only serves its metrics to it.
  return [
    "--worker",
    "--host",
    host,
    "--port",
    String(port),
    "--pool-size",
    String(pool),
    "--http-port",
    "0",
    ...kept,
  ];
}

/** Finds a free TCP port, for `--port 0` with several workers (they must agree on one port). */
export function freePort(host: string): number {
  const listener = Deno.listen({ hostname: host, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Worker {
  child: Deno.ChildProcess;
  restarts: number;
  /** The worker's loopback metrics port, once it is ready. */
  metricsPort: number | undefined;
}

/** The part of a worker's ready line that names its metrics port. */
export function workerMetricsDetail(port: number): string {
  return `worker metrics on 127.0.0.1:${port}`;
}

const WORKER_METRICS = /worker metrics on 127\.0\.0\.1:(\d+)/;

export class WorkerSupervisor {
  readonly #args: string[];
  readonly #log: (line: string) => void;
  readonly #workers: Worker[] = [];
  #stopping = false;

  constructor(args: string[], log: (line: string) => void) {
    this.#args = args;
    this.#log = log;
  }

  /** Starts `count` workers; resolves when every one has printed its ready line. */
  async start(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, index) => this.#spawn(index, 0)));
  }

  async #spawn(index: number, restarts: number): Promise<void> {
    // A compiled binary is the program itself; otherwise run main.ts with this Deno.
    const program = Deno.build.standalone
      ? this.#args
      : ["run", "--allow-all", "--unstable-net", ...denoRunFlags(), MAIN, ...this.#args];
    const child = new Deno.Command(Deno.execPath(), {
      args: program,
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    const worker: Worker = { child, restarts, metricsPort: undefined };
    this.#workers[index] = worker;
    child.status.then((status) => this.#exited(index, child, status));
    // The worker's later output goes on to the supervisor's stdout.
    const encoder = new TextEncoder();
    const ready = await awaitReadyLine(child.stdout, READY_TIMEOUT_MS, (text) => {
      Deno.stdout.writeSync(encoder.encode(text));
    });
    const metricsPort = WORKER_METRICS.exec(ready.line)?.[1];
    worker.metricsPort = metricsPort === undefined ? undefined : Number(metricsPort);
  }

  /** The metrics ports of the workers running now. */
  metricsPorts(): number[] {
    return this.#workers.flatMap((w) => w.metricsPort === undefined ? [] : [w.metricsPort]);
  }

  #exited(index: number, child: Deno.ChildProcess, status: Deno.CommandStatus): void {
    const worker = this.#workers[index];
    if (this.#stopping || worker?.child !== child) {
      return;
    }
    this.#log(`worker ${index} (pid ${child.pid}) exited with code ${status.code}`);
    if (worker.restarts >= WORKER_RESTARTS_MAX) {
      this.#log(`worker ${index} restarted ${WORKER_RESTARTS_MAX} times; not restarting again`);
      return;
    }
    this.#spawn(index, worker.restarts + 1).catch((error) =>
      this.#log(`worker ${index} failed to restart: ${error}`)
    );
  }

  /** Sends SIGTERM to every worker and waits for all of them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers.map(async ({ child }) => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    }));
  }
}
