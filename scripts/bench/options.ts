/** Command-line options of `deno task bench`, with bounded defaults (about six minutes). */
import { parseArgs } from "node:util";

/**
 * The parts of a run, each chosen by `--points`: the client-count sweep, the target points, the
 * shared-accounts point, memory with idle connections, the deep-book sweep and the
 * minute-long steady point.
 */
export const POINT_GROUPS = [
  "clients",
  "targets",
  "shared-accounts",
  "idle",
  "deep-book",
  "steady",
] as const;

/** One part of a run (see {@link POINT_GROUPS}). */
export type PointGroup = typeof POINT_GROUPS[number];

/** How requests travel: one connection per request, or persistent and pipelined. */
export type Framing = "text" | "binary";

/** One CPU configuration of the sweep: a label and the `taskset -c` list (none: all cores). */
export interface CoreSetting {
  label: string;
  cpuList: string | undefined;
}

/** Everything one bench run needs to know. */
export interface BenchOptions {
  durationMs: number;
  /** Client counts of the sweep (orders, one request in flight, 1 and `symbols` symbols). */
  clients: number[];
  repetitions: number;
  /** Symbols the orders of the target points spread over; the sweep runs 1 and this many. */
  symbols: number;
  /** Framings of the sweep; the target points always measure both. */
  framings: Framing[];
  cores: CoreSetting[];
  outDir: string;
  quick: boolean;
  /** Requests each binary connection keeps in flight at the pipelined points (the others: 1). */
  pipelineDepth: number;
  /** Client count of the target points (orders, queries and mix in every framing and depth). */
  targetClients: number;
  /** Client count of the hot-book target: all on one symbol. */
  hotClients: number;
  /** Idle connections held open for the memory measurement (0 skips it). */
  idleConnections: number;
  /** Skip pgbench even when it is installed. */
  noPgbench: boolean;
  /** Set when benchmarking a server someone else started. */
  external:
    | {
      host: string;
      port: number;
      serverPid: number | undefined;
      /** Its HTTP side port, for the batch sizes in `/metrics`. */
      httpPort: number | undefined;
    }
    | undefined;
  /** Extra flags for the server we start, e.g. `--workers 2`. */
  serverArgs: string[];
  /** The parts of the run to measure. */
  points: PointGroup[];
  /**
   * A PostgreSQL the operator runs: the server and pgbench each get a fresh database created on
   * it (and dropped afterwards) instead of the embedded cluster. Undefined: embedded.
   */
  databaseUrl: string | undefined;
  /** Length of the steady point, and of each slice its rate is reported for. */
  steadyMs: number;
  steadySliceMs: number;
  /** The deep-book point: resting one-share sells one buy sweeps, placed this many per request. */
  sweepOrders: number;
  sweepSetupBatch: number;
  /** Connections placing the resting sells at once (a connection's orders run one by one). */
  sweepSetupConnections: number;
  /** Clients placing orders on another book while the sweep runs. */
  sweepOtherClients: number;
  /**
   * The server's operation, statement, lock and idle-in-transaction timeouts while the run
   * includes the deep book (0: the server's own defaults).
   */
  sweepTimeoutMs: number;
  /** Accounts the shared-accounts point's clients pick from at random, order by order. */
  sharedAccounts: number;
  /**
   * Share of the aggressive orders (those that cross) sent as IOC or FOK, half each (issue 20);
   * 0 sends the classic mix, request for request.
   */
  immediateShare: number;
}

/** Thrown for a malformed flag; the message is meant for the user. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The help text. */
export const USAGE = `Usage: deno task bench [options]

Every point is a closed loop of clients for a fixed time. The sweep: orders, one request in
flight, each client count on 1 symbol and on --symbols symbols. The target points, at
--target-clients: orders, queries and the mix, each in text framing, binary with one request
in flight and binary pipelined; the hot book: --hot-clients on one symbol. pgbench runs beside
them on the same PostgreSQL, at the same client counts.

  --duration-ms N        length of each measured point (2000; pgbench rounds up to whole seconds)
  --clients LIST         client counts of the sweep (1,4,16,64)
  --repetitions N        repetitions of every point (3)
  --symbols N            symbols the target points spread over; the sweep runs 1 and N (4)
  --framing LIST         framings of the sweep: text,binary (binary)
  --cores LIST           CPU settings: a number pins server and PostgreSQL with taskset, all = no pin;
                         the targets are checked on all (the others run the sweep only) (1,all)
  --pipeline-depth N     requests in flight per binary connection at the pipelined points (4)
  --target-clients N     clients of the target points (16)
  --hot-clients N        clients of the hot-book point, all on one symbol (64)
  --idle-connections N   idle connections for the memory measurement (1000; 0 skips)
  --no-pgbench           do not run pgbench
  --server-args "ARGS"   extra flags for the server we start (e.g. "--workers 2")
  --points LIST          parts of the run: clients (the sweep above), targets, shared-accounts,
                         idle, deep-book, steady, or all
                         (clients,targets,shared-accounts,idle,deep-book; --quick: all)
  --database-url URL     run the server and pgbench on this PostgreSQL instead of the embedded
                         one: each gets a fresh database, created here and dropped at the end
  --steady-ms N          the steady point: orders, binary, 1 in flight, --target-clients on
                         --symbols symbols for this long (60000)
  --steady-slice-ms N    the steady point's rate is reported per slice of this length, whole
                         seconds dividing --steady-ms (10000)
  --sweep-orders N       the deep-book point: resting one-share sells that one buy sweeps (60000)
  --sweep-setup-batch N  sells per setup request (500)
  --sweep-setup-connections N  connections placing them at once (32)
  --sweep-other-clients N  clients trading on another book meanwhile (4)
  --sweep-timeout-ms N   with the deep book, the server we start gets this operation, statement,
                         lock and idle-in-transaction timeout, so that a slow sweep is measured
                         rather than cut off at the default 10 s (120000; 0: server defaults)
  --shared-accounts N    the shared-accounts point: --target-clients on --symbols symbols, each
                         order on one of N accounts picked at random (4)
  --immediate-share S    share (0 to 1) of the crossing orders sent with tif="IOC" or tif="FOK",
                         half each, at every point that places orders (0)
  --host H --port P      benchmark a running server instead (no pgbench; CPU/RSS need --server-pid)
  --server-pid N         pid of that server, for CPU and memory figures
  --server-http-port N   that server's HTTP side port, for the batch sizes in /metrics
  --out DIR              where REPORT.md, results.json and the SVG charts go (bench-results/)
  --quick                a tiny run for smoke tests (about 40 s), every point included
  --help
`;

const MAX_CLIENTS = 1024;
const MAX_DURATION_MS = 600_000;
/** The steady point may run for an hour (a slow decline needs a long look). */
const STEADY_MS_MAX = 3_600_000;
/** A million resting orders would hold the sweep's transaction for minutes at today's speed. */
const SWEEP_ORDERS_MAX = 1_000_000;
/** The server's default `--children-per-request-max`; a server started with less needs less. */
const SWEEP_SETUP_BATCH_MAX = 10_000;
const SHARED_ACCOUNTS_MAX = 1_000;
/** The server's own bound on its operation and statement timeouts. */
const SWEEP_TIMEOUT_MS_MAX = 3_600_000;

function positiveInt(name: string, raw: string, max: number): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new UsageError(
      `--${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

/** A share from 0 to 1, as plain decimal text (`0.25`); a probability, not money. */
function share(name: string, raw: string): number {
  if (!/^(0(\.[0-9]+)?|1(\.0+)?)$/.test(raw)) {
    throw new UsageError(
      `--${name} must be a number from 0 to 1 like 0.25, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

function list(raw: string): string[] {
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Turns `1`, `2`, `all` into taskset CPU lists (`0`, `0-1`, none). */
function parseCores(raw: string, cpuCount: number): CoreSetting[] {
  return list(raw).map((item) => {
    if (item === "all") {
      return { label: `all (${cpuCount})`, cpuList: undefined };
    }
    const n = positiveInt("cores", item, cpuCount);
    return { label: String(n), cpuList: n === 1 ? "0" : `0-${n - 1}` };
  });
}

/** Reads `--points`: names from {@link POINT_GROUPS}, or `all`. */
function parsePoints(raw: string): PointGroup[] {
  const names = list(raw);
  if (names.includes("all")) {
    return [...POINT_GROUPS];
  }
  if (names.length === 0) {
    throw new UsageError("--points needs at least one part");
  }
  for (const name of names) {
    if (!(POINT_GROUPS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--points takes ${POINT_GROUPS.join(", ")} or all, got ${JSON.stringify(name)}`,
      );
    }
  }
  return POINT_GROUPS.filter((g) => names.includes(g));
}

/** Checks a `--database-url`: a postgres URL that names the database to connect to first. */
function parseDatabaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError("--database-url must be a URL such as postgres://user@host:5432/postgres");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UsageError(`--database-url must start with postgres://, got ${url.protocol}//`);
  }
  return raw;
}

/** Parses flags; `--quick` changes the defaults, explicit flags still win. Null means --help. */
export function parseBenchOptions(args: string[], cpuCount: number): BenchOptions | null {
  const { values: v } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      "duration-ms": { type: "string" },
      clients: { type: "string" },
      repetitions: { type: "string" },
      symbols: { type: "string" },
      framing: { type: "string" },
      cores: { type: "string" },
      "pipeline-depth": { type: "string" },
      "target-clients": { type: "string" },
      "hot-clients": { type: "string" },
      "idle-connections": { type: "string" },
      "no-pgbench": { type: "boolean" },
      "server-args": { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "server-pid": { type: "string" },
      "server-http-port": { type: "string" },
      out: { type: "string" },
      points: { type: "string" },
      "database-url": { type: "string" },
      "steady-ms": { type: "string" },
      "steady-slice-ms": { type: "string" },
      "sweep-orders": { type: "string" },
      "sweep-setup-batch": { type: "string" },
      "sweep-setup-connections": { type: "string" },
      "sweep-other-clients": { type: "string" },
      "sweep-timeout-ms": { type: "string" },
      "shared-accounts": { type: "string" },
      "immediate-share": { type: "string" },
      quick: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (v.help === true) {
    return null;
  }
  const quick = v.quick === true;
  // Quick mode: every kind of point once, with two clients, one repetition, all cores, few
  // idle connections, a short steady point and a shallow book. The default run leaves the
  // steady point out: at a minute (and a minute of pgbench beside it) it would add half again.
  const d = quick
    ? {
      duration: "1000",
      clients: "2",
      reps: "1",
      cores: "all",
      target: "2",
      hot: "2",
      idle: "100",
      points: "all",
      steady: "2000",
      slice: "1000",
      sweepOrders: "500",
      sweepOthers: "2",
    }
    : {
      duration: "2000",
      clients: "1,4,16,64",
      reps: "3",
      cores: "1,all",
      target: "16",
      hot: "64",
      idle: "1000",
      points: "clients,targets,shared-accounts,idle,deep-book",
      steady: "60000",
      slice: "10000",
      sweepOrders: "60000",
      sweepOthers: "4",
    };
  const framings = [...new Set(list(v.framing ?? "binary"))].map((f) => {
    if (f !== "text" && f !== "binary") {
      throw new UsageError(`--framing takes text and/or binary, got ${JSON.stringify(f)}`);
    }
    return f as Framing;
  });
  const clients = [
    ...new Set(list(v.clients ?? d.clients).map((c) => positiveInt("clients", c, MAX_CLIENTS))),
  ];
  let external: BenchOptions["external"];
  if (v.host !== undefined || v.port !== undefined) {
    const host = v.host ?? "127.0.0.1";
    if (host !== "127.0.0.1" && host !== "localhost") {
      // The bench floods its target; only the local machine is a fair (and polite) target.
      throw new UsageError("--host must be 127.0.0.1 (the bench only targets the local machine)");
    }
    external = {
      host: "127.0.0.1",
      port: positiveInt("port", v.port ?? "12345", 65535),
      serverPid: v["server-pid"] === undefined
        ? undefined
        : positiveInt("server-pid", v["server-pid"], 2 ** 22),
      httpPort: v["server-http-port"] === undefined
        ? undefined
        : positiveInt("server-http-port", v["server-http-port"], 65535),
    };
  }
  const databaseUrl = v["database-url"] === undefined
    ? undefined
    : parseDatabaseUrl(v["database-url"]);
  if (databaseUrl !== undefined && external !== undefined) {
    throw new UsageError("--database-url is for a server the bench starts, not with --host/--port");
  }
  const steadyMs = positiveInt("steady-ms", v["steady-ms"] ?? d.steady, STEADY_MS_MAX);
  const steadySliceMs = positiveInt(
    "steady-slice-ms",
    v["steady-slice-ms"] ?? d.slice,
    steadyMs,
  );
  // pgbench's slices (-P) are whole seconds, and every slice as long, so that each of ours has
  // pgbench's beside it.
  if (steadySliceMs % 1000 !== 0 || steadyMs % steadySliceMs !== 0) {
    throw new UsageError(
      "--steady-slice-ms must be whole seconds and divide --steady-ms " +
        `(pgbench reports whole seconds), got ${steadySliceMs} and ${steadyMs}`,
    );
  }
  const idleRaw = v["idle-connections"] ?? d.idle;
  return {
    durationMs: positiveInt("duration-ms", v["duration-ms"] ?? d.duration, MAX_DURATION_MS),
    clients: clients.sort((a, b) => a - b),
    repetitions: positiveInt("repetitions", v.repetitions ?? d.reps, 100),
    symbols: positiveInt("symbols", v.symbols ?? "4", 1000),
    framings,
    cores: external === undefined
      ? parseCores(v.cores ?? d.cores, cpuCount)
      : [{ label: "external", cpuList: undefined }],
    outDir: v.out ?? "bench-results",
    quick,
    pipelineDepth: positiveInt("pipeline-depth", v["pipeline-depth"] ?? "4", 64),
    targetClients: positiveInt("target-clients", v["target-clients"] ?? d.target, MAX_CLIENTS),
    hotClients: positiveInt("hot-clients", v["hot-clients"] ?? d.hot, MAX_CLIENTS),
    idleConnections: idleRaw === "0" ? 0 : positiveInt("idle-connections", idleRaw, 10_000),
    noPgbench: v["no-pgbench"] === true || external !== undefined,
    external,
    serverArgs: list((v["server-args"] ?? "").replaceAll(" ", ",")),
    points: parsePoints(v.points ?? d.points),
    databaseUrl,
    steadyMs,
    steadySliceMs,
    sweepOrders: positiveInt("sweep-orders", v["sweep-orders"] ?? d.sweepOrders, SWEEP_ORDERS_MAX),
    sweepSetupBatch: positiveInt(
      "sweep-setup-batch",
      v["sweep-setup-batch"] ?? "500",
      SWEEP_SETUP_BATCH_MAX,
    ),
    sweepSetupConnections: positiveInt(
      "sweep-setup-connections",
      v["sweep-setup-connections"] ?? "32",
      MAX_CLIENTS,
    ),
    sweepOtherClients: positiveInt(
      "sweep-other-clients",
      v["sweep-other-clients"] ?? d.sweepOthers,
      MAX_CLIENTS,
    ),
    sweepTimeoutMs: v["sweep-timeout-ms"] === "0"
      ? 0
      : positiveInt("sweep-timeout-ms", v["sweep-timeout-ms"] ?? "120000", SWEEP_TIMEOUT_MS_MAX),
    sharedAccounts: positiveInt(
      "shared-accounts",
      v["shared-accounts"] ?? "4",
      SHARED_ACCOUNTS_MAX,
    ),
    immediateShare: share("immediate-share", v["immediate-share"] ?? "0"),
  };
}
