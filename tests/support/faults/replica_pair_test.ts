/**
 * Tests of ReplicaPair: synchronous replication, failover by promotion, and a multi-host
 * postgres.js client that finds the promoted standby through target_session_attrs.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import postgres from "postgres";
import { ensureOsUser } from "../../../src/db/os_user.ts";
import { binariesFor, PACKAGED_BINARIES } from "../../../src/db/postgres_binaries.ts";
import { ReplicaPair } from "./replica_pair.ts";

/** How long a query issued while no server accepts writes must stay pending to count as waiting. */
const WAITING_MS = 500;

async function postgresProcesses(path: string): Promise<string> {
  const output = await new Deno.Command("pgrep", { args: ["-af", path], stdout: "piped" }).output();
  return new TextDecoder().decode(output.stdout).trim();
}

async function withPair(
  binDir: string | undefined,
  test: (pair: ReplicaPair) => Promise<void>,
): Promise<void> {
  // A 0700 directory, as `mktemp -d` makes: as root, the pair must live elsewhere.
  const dir = await Deno.makeTempDir({ prefix: "replica-pair-test-" });
  try {
    const pair = await ReplicaPair.start({
      dir,
      database: "exchange",
      ...(binDir === undefined ? {} : { binDir }),
    });
    try {
      await test(pair);
    } finally {
      await pair.stop();
    }
    // stop() leaves no server running, and the logs where the caller looks for them.
    assert.equal(await postgresProcesses(pair.home), "");
    const kept = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    const expected = pair.home.startsWith(dir) ? ["replica-pair"] : ["primary.log", "standby.log"];
    assert.deepEqual(kept, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ReplicaPair fails over: a multi-host client writes to the promoted standby", async () => {
  await withPair(undefined, async (pair) => {
    const options = { max: 1, onnotice: () => {} };
    const primary = postgres(`postgres://${pair.user}@127.0.0.1:${pair.primaryPort}/exchange`, {
      ...options,
    });
    const standby = postgres(`postgres://${pair.user}@127.0.0.1:${pair.standbyPort}/exchange`, {
      ...options,
    });
    const client = postgres(pair.url(), { ...options, connect_timeout: 30 });
    const readWrite = postgres(pair.url("read-write"), { ...options, connect_timeout: 30 });
    try {
      await primary`create table fills (id int primary key, amount numeric not null)`;
      await primary`insert into fills values (1, 10.5)`;
      // synchronous_commit = on: once the insert returned, the standby has it on disk; it
      // becomes visible there once replayed, a moment later.
      assert.deepEqual(await eventually(() => standby`select amount from fills where id = 1`), [
        { amount: "10.5" },
      ]);
      for (const sql of [client, readWrite]) {
        const [first] = await sql`select inet_server_port() as port`;
        assert.equal(first?.port, pair.primaryPort);
      }

      const killed = performance.now();
      await pair.killPrimary();
      const killMs = Math.round(performance.now() - killed);
      await primary.end({ timeout: 0 });
      // While no server is primary, a query of the multi-host client waits (postgres.js tries
      // the hosts in turn, without a pause and without end) instead of failing.
      let settled = false;
      const waiting = client`select inet_server_port() as port`.finally(() => settled = true);
      waiting.catch(() => {});
      // The "read-write" URL instead lands on the standby, which is still read-only.
      const [landed] = await readWrite`select inet_server_port() as port`;
      assert.equal(landed?.port, pair.standbyPort);
      await assert.rejects(readWrite`insert into fills values (9, 9)`, { code: "25006" });
      await new Promise((resolve) => setTimeout(resolve, WAITING_MS));
      assert.equal(settled, false);

      const promoteMs = await pair.promoteStandby();
      const [during] = await waiting;
      assert.equal(during?.port, pair.standbyPort);
      await client`insert into fills values (2, 3)`;
      const rows = await client`select id, amount from fills order by id`;
      assert.deepEqual(rows.map((row) => [row.id, row.amount]), [[1, "10.5"], [2, "3"]]);
      console.log(`killPrimary ${killMs} ms, promoteStandby ${promoteMs} ms`);
    } finally {
      await Promise.all(
        [primary, standby, client, readWrite].map((sql) => sql.end({ timeout: 0 })),
      );
    }
  });
});

/** Retries `read` until it returns rows (a standby replays a moment after the commit). */
async function eventually<T extends readonly unknown[]>(
  read: () => Promise<T>,
): Promise<unknown[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const rows = await read().catch(() => []);
    if (rows.length > 0 || performance.now() > deadline) {
      return [...rows];
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("ReplicaPair replicates and fails over with the npm package's binaries", async () => {
  // The fallback when Debian's PostgreSQL 15 is missing; staged where `postgres` can run them.
  const packaged = Deno.uid() === 0 ? await binariesFor(await ensureOsUser()) : PACKAGED_BINARIES;
  await withPair(dirname(packaged.pg_ctl), async (pair) => {
    const client = postgres(pair.url(), { max: 1, onnotice: () => {}, connect_timeout: 30 });
    try {
      await client`create table fills (id int primary key)`;
      await client`insert into fills values (1)`;
      const [version] = await client`select current_setting('server_version_num')::int as number`;
      assert.ok(Number(version?.number) >= 180000);
      await pair.killPrimary();
      await pair.promoteStandby();
      await client`insert into fills values (2)`;
      const rows = await client`select id from fills order by id`;
      assert.deepEqual(rows.map((row) => row.id), [1, 2]);
    } finally {
      await client.end({ timeout: 0 });
    }
  });
});
