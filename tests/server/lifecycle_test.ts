/**
 * The real server process: state across restarts, `--reset`, SIGTERM with requests in flight,
 * and crashes (kill -9 of the server, then of PostgreSQL too) that lose nothing acknowledged.
 */
import { pgArray } from "../../src/db/pg_array.ts";
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { BinaryClient, sendText } from "../../src/client/exchange_client.ts";
import { buildConfig } from "../../src/config.ts";
import { auditDatabase } from "../../src/db/audit.ts";
import { ensureDatabase, openPool } from "../../src/db/database.ts";
import { embeddedTarget } from "../../src/db/embedded_target.ts";
import { runningPostmasterPid } from "../../src/db/embedded_postgres.ts";
import { testCluster } from "../support/harness.ts";
import { beginHolding, sessionsWaitingForLock } from "../support/lock_wait.ts";
import { freePort } from "../../src/server/workers.ts";
import { sample } from "../support/metrics_text.ts";
import { startServerProcess } from "../support/server_process.ts";
import { describe, results } from "../support/xml.ts";

function tempDataDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "exchange-lifecycle-" });
}

function postgresRunning(dataDir: string): boolean {
  return runningPostmasterPid(dataDir) !== undefined;
}

async function stopLeftovers(dataDir: string): Promise<void> {
  const pid = runningPostmasterPid(dataDir);
  if (pid !== undefined) {
    Deno.kill(pid, "SIGQUIT");
    for (let i = 0; i < 100 && postgresRunning(dataDir); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

Deno.test("server keeps state across restarts and --reset starts empty", async () => {
  const dataDir = await tempDataDir();
  try {
    let server = await startServerProcess(["--data-dir", dataDir]);
    deepStrictEqual(
      results(await sendText(server.port, `<create><account id="42" balance="7.5"/></create>`)).map(
        describe,
      ),
      ["created{id=42}"],
    );
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
    ok(!postgresRunning(dataDir), "PostgreSQL stopped with the server");

    server = await startServerProcess(["--data-dir", dataDir]);
    const again = results(
      await sendText(server.port, `<create><account id="42" balance="1"/></create>`),
    );
    strictEqual(again[0]!.text, "Account already exists");
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);

    server = await startServerProcess(["--data-dir", dataDir, "--reset"]);
    deepStrictEqual(
      results(await sendText(server.port, `<create><account id="42" balance="1"/></create>`)).map(
        describe,
      ),
      ["created{id=42}"],
    );
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
  } finally {
    await stopLeftovers(dataDir);
  }
});

Deno.test("server answers requests in flight on SIGTERM, then exits cleanly", async () => {
  const dataDir = await tempDataDir();
  try {
    const server = await startServerProcess(["--data-dir", dataDir]);
    // The request is surely in flight at SIGTERM: PostgreSQL shows it waiting for this lock.
    const sql = openExchangePool(dataDir);
    const watcher = openExchangePool(dataDir);
    const blocker = await sql.reserve();
    await beginHolding(blocker);
    await blocker`LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`;
    const client = await BinaryClient.connect(server.port);
    const accounts = Array.from({ length: 200 }, (_, i) => `<account id="${i}" balance="1"/>`).join(
      "",
    );
    const answer = client.request(`<create>${accounts}</create>`);
    await sessionsWaitingForLock(watcher, "exchange-single");
    server.kill("SIGTERM");
    await blocker`ROLLBACK`;
    blocker.release();
    await sql.end();
    await watcher.end();
    strictEqual(results(await answer).length, 200);
    await client.closed();
    client.close();
    strictEqual((await server.status).code, 0);
    ok(/stopped cleanly/.test(server.stderr()), server.stderr());
  } finally {
    await stopLeftovers(dataDir);
  }
});

Deno.test("kill -9 of the server under batched load, then of PostgreSQL, loses no acknowledged order", async () => {
  const dataDir = await tempDataDir();
  try {
    const httpPort = freePort("127.0.0.1");
    let server = await startServerProcess([
      "--data-dir",
      dataDir,
      "--http-port",
      String(httpPort),
    ]);
    const metricsText = async () =>
      await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const setup = `<create>` +
      Array.from({ length: 8 }, (_, i) => `<account id="${i}" balance="1000000"/>`).join("") +
      `<symbol sym="K">` + Array.from({ length: 8 }, (_, i) =>
        `<account id="${i}">10000</account>`).join("") +
      `</symbol></create>`;
    ok(results(await sendText(server.port, setup)).every((e) => e.name === "created"));

    // Eight pipelined clients trade until the server is killed under them.
    const acknowledged = new Map<string, Acknowledged>();
    const clients = await Promise.all(
      Array.from({ length: 8 }, () => BinaryClient.connect(server.port)),
    );
    const traders = clients.map(async (client, c) => {
      for (let i = 0; i < 400; i++) {
        const amount = (i + c) % 2 === 0 ? "3" : "-2";
        const limit = String(95 + ((i * 7 + c) % 10));
        let answer: string;
        try {
          answer = await client.request(
            `<transactions id="${c}"><order sym="K" amount="${amount}" limit="${limit}"/></transactions>`,
          );
        } catch {
          return; // The server died.
        }
        const opened = results(answer)[0]!;
        if (opened.name === "opened") {
          acknowledged.set(opened.attributes.id!, { account: String(c), amount, limit });
        }
      }
    });
    // Batches of several orders, on purpose: an outside session holds the book's lock until all
    // eight clients' orders wait for it, in the batch stuck on the lock or queued behind it.
    // Then four or more of them are in one batch: the stuck one, or the next.
    const holder = openExchangePool(dataDir);
    try {
      await holder.begin(async (tx) => {
        // Exempt from the idle-in-transaction timeout, as beginHolding does.
        await tx`SET LOCAL idle_in_transaction_session_timeout = 0`;
        await tx`SELECT sym FROM symbols WHERE sym = 'K' FOR UPDATE`;
        for (let i = 0;; i++) {
          const text = await metricsText();
          const waiting = sample(text, "exchange_order_queue_depth") +
            sample(text, "exchange_order_batch_operations_running");
          if (waiting === 8) {
            break;
          }
          ok(i < 1_000, `only ${waiting} of 8 orders ever waited behind the held book`);
          await new Promise((r) => setTimeout(r, 5));
        }
      });
    } finally {
      await holder.end();
    }
    while (acknowledged.size < 150) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // The load was batched: some batch held more than two orders (the buckets are 1, 2, 4, 8...).
    const batches = await metricsText();
    ok(
      sample(batches, "exchange_order_batch_size_bucket", { le: "2" }) <
        sample(batches, "exchange_order_batch_size_count"),
      batches,
    );
    server.kill("SIGKILL");
    await Promise.all(traders);
    clients.forEach((client) => client.close());
    await server.status;

    // Restart on the same data directory: PostgreSQL survived the server and is adopted.
    server = await startServerProcess(["--data-dir", dataDir]);
    ok(/reusing PostgreSQL already running/.test(server.stderr()), server.stderr());
    await checkAcknowledged(server.port, dataDir, acknowledged);
    await checkConservation(dataDir);

    // Now crash PostgreSQL itself (SIGKILL to the postmaster) and the server with it.
    const pgPid = runningPostmasterPid(dataDir);
    ok(pgPid !== undefined, "PostgreSQL runs under the restarted server");
    Deno.kill(pgPid, "SIGKILL");
    server.kill("SIGKILL");
    await server.status;
    server = await startServerProcess(["--data-dir", dataDir]);
    await checkAcknowledged(server.port, dataDir, acknowledged);
    await checkConservation(dataDir);
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
  } finally {
    await stopLeftovers(dataDir);
  }
});

interface Acknowledged {
  account: string;
  amount: string;
  limit: string;
}

function openExchangePool(dataDir: string) {
  const config = buildConfig(new Map(), 2).database;
  return openPool(embeddedTarget(dataDir), { ...config, poolSize: 1 }, "lifecycle-test");
}

/** Every acknowledged order is there with its account, amount and limit; its owner can query it. */
async function checkAcknowledged(
  port: number,
  dataDir: string,
  acknowledged: Map<string, Acknowledged>,
) {
  ok(acknowledged.size >= 150);
  const sql = openExchangePool(dataDir);
  try {
    const ids = [...acknowledged.keys()];
    const rows = await sql`SELECT id::text AS id, account_id, sym, amount::text AS amount,
                                  limit_price::text AS limit FROM orders WHERE id = ANY(${
      pgArray(ids)
    }::bigint[])`;
    strictEqual(rows.length, ids.length, "every acknowledged order is in the database");
    for (const row of rows) {
      const expected = acknowledged.get(row.id)!;
      deepStrictEqual([row.account_id, row.sym, row.amount, row.limit], [
        expected.account,
        "K",
        expected.amount,
        expected.limit,
      ]);
    }
  } finally {
    await sql.end();
  }
  for (let account = 0; account < 8; account++) {
    const mine = [...acknowledged].filter(([, a]) => a.account === String(account)).map(([id]) =>
      id
    );
    if (mine.length === 0) continue;
    const answer = results(
      await sendText(
        port,
        `<transactions id="${account}">${
          mine.map((id) => `<query id="${id}"/>`).join("")
        }</transactions>`,
      ),
    );
    deepStrictEqual(
      answer.map((e) => `${e.name}:${e.attributes.id}`),
      mine.map((id) => `status:${id}`),
    );
  }
}

/** Money and shares add up after recovery. */
/** The audit (the one definition of the invariants) finds nothing wrong after the crash. */
async function checkConservation(dataDir: string): Promise<void> {
  const sql = openExchangePool(dataDir);
  try {
    const report = await auditDatabase(sql);
    deepStrictEqual(report.violations, []);
    ok(report.totals.executions > 0, "orders traded before the crash");
  } finally {
    await sql.end();
  }
}

Deno.test("--workers 2 serves from two processes on one port and stops everything on SIGTERM", async () => {
  const dataDir = await tempDataDir();
  try {
    const server = await startServerProcess([
      "--data-dir",
      dataDir,
      "--workers",
      "2",
      "--pool-size",
      "4",
    ]);
    const answers = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => sendText(server.port, `<create><account id="${i}" balance="1"/></create>`),
      ),
    );
    deepStrictEqual(
      answers.map((a) => describe(results(a)[0]!)),
      Array.from({ length: 40 }, (_, i) => `created{id=${i}}`),
    );
    const workers = server.stderr().match(/reusing PostgreSQL already running/g) ?? [];
    strictEqual(workers.length, 2, server.stderr());
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
    ok(!postgresRunning(dataDir), "PostgreSQL stopped with the supervisor");
  } finally {
    await stopLeftovers(dataDir);
  }
});

Deno.test("--workers: a worker killed with -9 is started again and the port keeps serving", async () => {
  const dataDir = await tempDataDir();
  try {
    const server = await startServerProcess(["--data-dir", dataDir, "--workers", "2"]);
    const workerPids = () =>
      [...server.stderr().matchAll(/\[exchange ([0-9]+)\] reusing PostgreSQL already running/g)]
        .map((match) => Number(match[1]));
    const [victim, survivor] = workerPids();
    ok(victim !== undefined && survivor !== undefined, server.stderr());
    Deno.kill(victim, "SIGKILL");
    // The supervisor notices, and its replacement is ready once it has adopted the cluster.
    for (let i = 0; i < 600 && workerPids().length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const replacement = workerPids()[2];
    ok(replacement !== undefined, server.stderr());
    ok(server.stderr().includes(`(pid ${victim}) exited with code 137`), server.stderr());
    const answers = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => sendText(server.port, `<create><account id="${i}" balance="1"/></create>`),
      ),
    );
    deepStrictEqual(
      answers.map((a) => describe(results(a)[0]!)),
      Array.from({ length: 10 }, (_, i) => `created{id=${i}}`),
    );
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
    for (const pid of [survivor, replacement]) {
      ok(!(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)), `worker ${pid} gone`);
    }
    ok(!postgresRunning(dataDir), "PostgreSQL stopped with the supervisor");
  } finally {
    await stopLeftovers(dataDir);
  }
});

Deno.test("--database-url serves from an existing PostgreSQL instead of the embedded one", async () => {
  const { pg } = await testCluster();
  const config = buildConfig(new Map(), 2).database;
  const name = `url_${Deno.pid}_${Date.now()}`;
  await ensureDatabase(pg.target("postgres"), name, config);
  const url =
    `postgres://postgres@localhost:${pg.target().port}/${name}?host=${pg.location.socketDir}`;
  const server = await startServerProcess(["--database-url", url]);
  try {
    deepStrictEqual(
      results(await sendText(server.port, `<create><account id="9" balance="3"/></create>`)).map(
        describe,
      ),
      ["created{id=9}"],
    );
    const sql = openPool({ kind: "url", url }, { ...config, poolSize: 1 }, "lifecycle-test");
    try {
      const rows = await sql`SELECT id, balance::text AS balance FROM accounts`;
      deepStrictEqual(rows.map((r) => [r.id, r.balance]), [["9", "3"]]);
    } finally {
      await sql.end();
    }
  } finally {
    server.kill("SIGTERM");
    strictEqual((await server.status).code, 0);
  }
  ok(await pg.isRunning(), "the server leaves a PostgreSQL it did not start running");
});
