/**
 * Closed-loop load: each client sends a request, waits for its answer, sends the next, until
 * the point's time is up. Text framing opens one connection per request (as classic clients
 * do); binary framing keeps one connection per client with a few requests in flight.
 */
import { BinaryClient, sendText } from "../../src/client/exchange_client.ts";
import { LatencyRecorder, type LatencySummary } from "./latency_stats.ts";
import type { Framing } from "./options.ts";
import { type BenchRequest, TraderWorkload, type WorkloadKind } from "./workload.ts";

/** What to run for one measured point. */
export interface LoadSpec {
  host: string;
  port: number;
  framing: Framing;
  clients: number;
  durationMs: number;
  workload: WorkloadKind;
  symbols: string[];
  /** Account of each client (client i trades on accounts[i % length]). */
  accounts: string[];
  /**
   * When above 0, every client trades on the first `sharedAccounts` accounts instead, picking
   * one at random for each request.
   */
  sharedAccounts?: number;
  /** Binary framing: requests in flight per connection. */
  pipelineDepth: number;
  /** Share of the aggressive orders sent with `tif` IOC or FOK (0: none, the classic mix). */
  immediateShare?: number;
  seed: number;
  /**
   * Awaited just before the clock starts (after connections and warm-up, with nothing in
   * flight), e.g. to sample CPU and scrape the server's counters.
   */
  onStart?: () => void | Promise<void>;
  /** Called for every answered request, with when it was sent and answered (performance.now()). */
  onAnswer?: (request: BenchRequest, sentAt: number, answeredAt: number) => void;
  /** Ends the point before `durationMs` (no new request is sent once it is aborted). */
  signal?: AbortSignal;
  /** A request unanswered this long counts as an error (REQUEST_TIMEOUT_MS when absent). */
  requestTimeoutMs?: number;
}

/** Raw outcome of one measured point. */
export interface LoadResult {
  elapsedMs: number;
  requests: number;
  ops: number;
  orders: number;
  queries: number;
  cancels: number;
  errors: number;
  refusals: number;
  errorMessages: string[];
  latency: LatencySummary;
}

/** A request that gets no answer in this long counts as an error (and the client moves on). */
const REQUEST_TIMEOUT_MS = 30_000;
/** Hard bound on requests per client per point, whatever the duration. */
const REQUESTS_PER_CLIENT_MAX = 5_000_000;
const ERROR_MESSAGES_KEPT = 10;

/** `promise`, or a rejection once `ms` have passed without it settling. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Shared counters of one point. */
class Tally {
  requests = 0;
  ops = 0;
  orders = 0;
  queries = 0;
  cancels = 0;
  errors = 0;
  refusals = 0;
  readonly messages: string[] = [];
  readonly latency = new LatencyRecorder();

  count(request: BenchRequest, workload: TraderWorkload, answer: string, ms: number): void {
    this.requests++;
    this.ops += request.ops.length;
    for (const op of request.ops) {
      if (op === "order") this.orders++;
      else if (op === "query") this.queries++;
      else this.cancels++;
    }
    this.latency.add(ms);
    const check = workload.observe(request, answer);
    this.errors += check.errors;
    this.refusals += check.refusals;
    this.note(...check.messages);
  }

  fail(error: unknown): void {
    this.errors++;
    this.note(`transport: ${error instanceof Error ? error.message : String(error)}`);
  }

  note(...messages: string[]): void {
    for (const message of messages) {
      if (this.messages.length < ERROR_MESSAGES_KEPT) {
        this.messages.push(message);
      }
    }
  }
}

/** A function that sends one request and resolves with the answer. */
type Send = (xml: string) => Promise<string>;

/** One closed loop: send, wait, repeat until the deadline (or the spec's signal). */
async function loop(
  send: Send,
  workload: TraderWorkload,
  deadline: number,
  tally: Tally,
  spec: LoadSpec,
): Promise<void> {
  for (
    let i = 0;
    i < REQUESTS_PER_CLIENT_MAX && performance.now() < deadline && spec.signal?.aborted !== true;
    i++
  ) {
    const request = workload.next();
    const started = performance.now();
    let answer: string;
    try {
      answer = await withTimeout(send(request.xml), spec.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    } catch (error) {
      tally.fail(error);
      continue;
    }
    const answered = performance.now();
    tally.count(request, workload, answer, answered - started);
    spec.onAnswer?.(request, started, answered);
  }
}

/** The accounts client `i` trades on. */
function accountsOf(spec: LoadSpec, i: number): string[] {
  const shared = spec.sharedAccounts ?? 0;
  if (shared > 0) {
    return spec.accounts.slice(0, shared);
  }
  return [spec.accounts[i % spec.accounts.length] ?? "0"];
}

/** Runs one point and returns its counts and latency percentiles. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const tally = new Tally();
  const workloads = Array.from(
    { length: spec.clients },
    (_, i) =>
      new TraderWorkload(
        accountsOf(spec, i),
        spec.symbols,
        spec.workload,
        spec.seed * 1000 + i,
        { immediateShare: spec.immediateShare ?? 0 },
      ),
  );
  // Connections (binary) and warm-up orders happen before the clock starts.
  const sends: Send[] = [];
  const binaries: BinaryClient[] = [];
  try {
    // Connect sequentially (bounded accept queue), then warm up every client at once.
    for (let i = 0; i < workloads.length; i++) {
      if (spec.framing === "binary") {
        const client = await BinaryClient.connect(spec.port, spec.host);
        binaries.push(client);
        sends.push((xml) => client.request(xml));
      } else {
        sends.push((xml) => sendText(spec.port, xml, spec.host));
      }
    }
    await Promise.all(workloads.map(async (workload, i) => {
      for (const request of workload.warmup()) {
        workload.observe(request, await withTimeout(sends[i]!(request.xml), REQUEST_TIMEOUT_MS));
      }
    }));
    await spec.onStart?.();
    const started = performance.now();
    const deadline = started + spec.durationMs;
    const lanes = spec.framing === "binary" ? spec.pipelineDepth : 1;
    const loops: Promise<void>[] = [];
    workloads.forEach((workload, i) => {
      for (let lane = 0; lane < lanes; lane++) {
        loops.push(loop(sends[i]!, workload, deadline, tally, spec));
      }
    });
    await Promise.all(loops);
    const elapsedMs = performance.now() - started;
    return {
      elapsedMs,
      requests: tally.requests,
      ops: tally.ops,
      orders: tally.orders,
      queries: tally.queries,
      cancels: tally.cancels,
      errors: tally.errors,
      refusals: tally.refusals,
      errorMessages: tally.messages,
      latency: tally.latency.summary(),
    };
  } finally {
    for (const client of binaries) {
      client.close();
    }
    await Promise.allSettled(binaries.map((c) => c.closed()));
  }
}
