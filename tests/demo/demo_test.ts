/**
 * `deno task demo` as a user runs it: a child process (the task, the demo, the server and its
 * PostgreSQL) with a fixed seed. The page's HTTP side must show trades and a book with both
 * sides; a stop must end every process and remove the throwaway database. Ctrl-C is sent as a
 * terminal sends it, to the whole process group; SIGTERM to the task alone, so that the demo
 * has to stop the server itself. Nothing here depends on how fast the machine is: the waits
 * are deadlines for things to happen at all.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { locateCluster } from "../../src/db/cluster_location.ts";
import { freePort } from "../../src/server/workers.ts";
import { getJson } from "../support/http.ts";

const REPO = new URL("../../", import.meta.url).pathname;
/** The first start may initialise PostgreSQL and stage its binaries. */
const STARTED_MS = 180_000;
/** For trades and both sides of the book to appear on the page's API. */
const MARKET_MS = 60_000;
/** For everything to stop after the signal. */
const STOPPED_MS = 60_000;
const POLL_MS = 200;

interface RunningDemo {
  /** The `deno task` process, leader of its own process group. */
  pid: number;
  status: Promise<Deno.CommandStatus>;
  stdout(): string;
  stderr(): string;
}

/** Starts `deno task demo` in a new session (its own process group, as a terminal's job). */
function startDemo(args: string[]): RunningDemo {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "demo", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const reading = Promise.all([
    (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) out += text;
    })(),
    (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) err += text;
    })(),
  ]);
  return {
    pid: child.pid,
    status: child.status.then(async (status) => {
      await reading;
      return status;
    }),
    stdout: () => out,
    stderr: () => err,
  };
}

/** Polls `probe` until it returns a value, or fails after `deadlineMs` with `what`. */
async function eventually<T>(
  what: string,
  deadlineMs: number,
  demo: RunningDemo,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (performance.now() > end) {
      throw new Error(`${what} not seen\nstdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The processes whose command line mentions `path` (the server's --data-dir, postgres -D). */
function processesMentioning(path: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry.name) || Number(entry.name) === Deno.pid) {
      continue;
    }
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(path)) {
        found.push(`${entry.name}: ${cmdline}`);
      }
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return false;
    }
    throw error;
  }
}

/** Waits for the demo to print its data directory and page; returns them with the cluster's. */
async function started(demo: RunningDemo) {
  const page = await eventually("the page's address", STARTED_MS, demo, () => {
    return /demo: open (http:\/\/\S+)\/\?sym=/.exec(demo.stdout())?.[1];
  });
  const dataDir = /database lives in (\S+) until/.exec(demo.stdout())?.[1];
  ok(dataDir !== undefined, demo.stdout());
  const clusterDir = locateCluster(dataDir).clusterDir;
  // The check after the stop is only worth something if it sees them while they run.
  ok(processesMentioning(dataDir).length >= 2, processesMentioning(dataDir).join("\n"));
  ok(processesMentioning(clusterDir).length >= 1, `no postgres on ${clusterDir}`);
  return { page, dataDir, clusterDir };
}

/** Waits for the demo to end after a signal; SIGKILLs its group if it does not. */
async function stopped(demo: RunningDemo): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    demo.status,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), STOPPED_MS);
    }),
  ]);
  clearTimeout(timer);
  if (status === undefined) {
    Deno.kill(-demo.pid, "SIGKILL");
    await demo.status;
    throw new Error(`the demo did not stop\n${demo.stdout()}\n${demo.stderr()}`);
  }
  return status;
}

/** Nothing runs on the data directory or its cluster, and neither exists any more. */
async function assertNothingLeft(dataDir: string, clusterDir: string): Promise<void> {
  deepStrictEqual(processesMentioning(dataDir), []);
  deepStrictEqual(processesMentioning(clusterDir), []);
  deepStrictEqual(await exists(dataDir), false, `${dataDir} is still there`);
  deepStrictEqual(await exists(clusterDir), false, `${clusterDir} is still there`);
}

interface Book {
  bids: Array<{ price: string }>;
  asks: Array<{ price: string }>;
}

Deno.test("deno task demo trades on a two-sided book, and Ctrl-C leaves nothing running", async () => {
  const demo = startDemo([
    ...["--seed", "20", "--symbols", "DEMOA,DEMOB", "--makers", "2", "--takers", "2"],
    ...["--rate", "20", "--http-port", String(freePort("127.0.0.1"))],
  ]);
  try {
    const { page, dataDir, clusterDir } = await started(demo);
    const book = await eventually("a book with bids and asks", MARKET_MS, demo, async () => {
      const { status, body } = await getJson(page, "/api/books/DEMOA?depth=10");
      const sides = body as unknown as Book;
      return status === 200 && sides.bids.length > 0 && sides.asks.length > 0 ? sides : undefined;
    });
    // Prices are exact decimal strings; the book is never crossed.
    ok(Number(book.bids[0]!.price) < Number(book.asks[0]!.price), JSON.stringify(book));
    await eventually("trades", MARKET_MS, demo, async () => {
      const { status, body } = await getJson(page, "/api/trades/DEMOA");
      return status === 200 && (body.trades as unknown[]).length > 0 ? true : undefined;
    });
    await eventually("candles", MARKET_MS, demo, async () => {
      const { status, body } = await getJson(page, "/api/candles/DEMOB");
      return status === 200 && (body.candles as unknown[]).length > 0 ? true : undefined;
    });

    Deno.kill(-demo.pid, "SIGINT");
    const status = await stopped(demo);
    deepStrictEqual(status.code, 0, `${demo.stdout()}\n${demo.stderr()}`);
    // The market was built so that the exchange refuses nothing (see scripts/demo/quote_plan.ts).
    ok(/in all: .* 0 refusals, 0 errors/.test(demo.stdout()), demo.stdout());
    await assertNothingLeft(dataDir, clusterDir);
  } finally {
    try {
      Deno.kill(-demo.pid, "SIGKILL");
    } catch {
      // Already gone, as it should be.
    }
  }
});

Deno.test("deno task demo stops the server and PostgreSQL itself on SIGTERM", async () => {
  const demo = startDemo([
    ...["--seed", "21", "--symbols", "DEMOC", "--makers", "1", "--takers", "1"],
    ...["--http-port", "0"],
  ]);
  try {
    const { dataDir, clusterDir } = await started(demo);
    // To the task alone, which passes it on to the demo: the server hears nothing from outside.
    Deno.kill(demo.pid, "SIGTERM");
    const status = await stopped(demo);
    deepStrictEqual(status.code, 0, `${demo.stdout()}\n${demo.stderr()}`);
    await assertNothingLeft(dataDir, clusterDir);
  } finally {
    try {
      Deno.kill(-demo.pid, "SIGKILL");
    } catch {
      // Already gone, as it should be.
    }
  }
});
