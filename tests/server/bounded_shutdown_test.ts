/**
 * The real server process never outlives its bounds: after the shutdown grace, work still in
 * flight is abandoned (rolled back) and the process exits; a failed start (port in use, a
 * migration error) leaves no embedded PostgreSQL behind.
 */
import { ok, strictEqual } from "node:assert/strict";
import { BinaryClient } from "../../src/client/exchange_client.ts";
import { buildConfig } from "../../src/config.ts";
import { ensureDatabase, openPool } from "../../src/db/database.ts";
import { EmbeddedPostgres, runningPostmasterPid } from "../../src/db/embedded_postgres.ts";
import { testCluster } from "../support/harness.ts";
import { beginHolding, sessionsWaitingForLock } from "../support/lock_wait.ts";
import { startServerProcess } from "../support/server_process.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Guards against a hang only: the process is expected to exit right after its grace. */
const EXIT_WAIT_MS = 60_000;

async function exitsWithin<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still running`)), EXIT_WAIT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("after the shutdown grace the server abandons a long request, rolls it back and exits", async () => {
  const { pg } = await testCluster();
  const config = buildConfig(new Map(), 2).database;
  const name = `grace_${Deno.pid}_${Date.now()}`;
  await ensureDatabase(pg.target("postgres"), name, config);
  const url =
    `postgres://postgres@localhost:${pg.target().port}/${name}?host=${pg.location.socketDir}`;
  const server = await startServerProcess([
    "--database-url",
    url,
    "--shutdown-grace-ms",
    "200",
    "--lock-timeout-ms",
    "3600000",
    "--statement-timeout-ms",
    "3600000",
  ]);
  const sql = openPool({ kind: "url", url }, { ...config, poolSize: 2 }, "grace-test");
  const blocker = await sql.reserve();
  try {
    // Every account insert waits behind this lock for as long as the test holds it.
    await beginHolding(blocker);
    await blocker`LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`;
    const client = await BinaryClient.connect(server.port);
    const accounts = Array.from({ length: 10_000 }, (_, i) => `<account id="${i}" balance="1"/>`);
    const answer = client.request(`<create>${accounts.join("")}</create>`).catch((e) => e);
    await sessionsWaitingForLock(sql, "exchange-single");
    server.kill("SIGTERM");
    // The lock is still held: only abandoning the request lets the process end.
    const status = await exitsWithin(server.status, "server after its shutdown grace");
    strictEqual(status.code, 0, server.stderr());
    ok(
      /shutdown grace of 200 ms over: abandoning 1 connection/.test(server.stderr()),
      server.stderr(),
    );
    await answer;
    client.close();
    await blocker`ROLLBACK`;
    const [row] = await sql`SELECT count(*)::int AS n FROM exchange.accounts`;
    strictEqual(row!.n, 0, "the abandoned work was rolled back");
    const [left] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity
                             WHERE application_name LIKE 'exchange-single/%'`;
    strictEqual(left!.n, 0, "no session of the server is left");
  } finally {
    blocker.release();
    await sql.end();
    try {
      server.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

async function runMain(args: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--host", "127.0.0.1", ...args],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("a start that fails on a port in use stops the PostgreSQL it started, with one sentence", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-failed-start-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const result = await runMain(["--port", String(port), "--data-dir", dataDir]);
    strictEqual(result.code, 1, result.stderr);
    ok(
      result.stderr.includes(`Cannot listen on 127.0.0.1:${port}: the port is in use`),
      result.stderr,
    );
    ok(!result.stderr.includes("    at "), `no stack trace: ${result.stderr}`);
    strictEqual(runningPostmasterPid(dataDir), undefined, "PostgreSQL was stopped");
  } finally {
    taken.close();
    const pid = runningPostmasterPid(dataDir);
    if (pid !== undefined) {
      Deno.kill(pid, "SIGQUIT");
    }
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a start that fails on a migration stops the PostgreSQL it started", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-failed-migration-" });
  try {
    // A first start creates the schema; then migration 1 is marked as not applied, so the next
    // start runs it again and fails on the tables that exist.
    const first = await startServerProcess(["--data-dir", dataDir]);
    first.kill("SIGTERM");
    strictEqual((await first.status).code, 0);
    const pg = await EmbeddedPostgres.start({ dataDir });
    const sql = openPool(
      pg.target("exchange"),
      { ...buildConfig(new Map(), 2).database, poolSize: 1 },
      "migration-test",
    );
    await sql`DELETE FROM exchange.schema_migrations WHERE version = 1`;
    await sql.end();
    await pg.stop();

    const result = await runMain(["--port", "0", "--data-dir", dataDir]);
    ok(result.code !== 0, result.stderr);
    ok(/already exists/.test(result.stderr), result.stderr);
    strictEqual(runningPostmasterPid(dataDir), undefined, "PostgreSQL was stopped");
  } finally {
    const pid = runningPostmasterPid(dataDir);
    if (pid !== undefined) {
      Deno.kill(pid, "SIGQUIT");
    }
    await Deno.remove(dataDir, { recursive: true });
  }
});
