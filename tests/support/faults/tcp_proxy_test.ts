/**
 * Tests of TcpProxy against a real PostgreSQL: the embedded cluster of this project, started in
 * its own temporary directory and listening on a TCP port of 127.0.0.1 (the shared test cluster
 * listens only on a Unix socket, which a TCP proxy cannot sit in front of).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { EmbeddedPostgres } from "../../../src/db/embedded_postgres.ts";
import { TEST_CLUSTER_SETTINGS } from "../harness.ts";
import { freePort } from "./free_port.ts";
import { TcpProxy } from "./tcp_proxy.ts";

/** How long a query through a black hole must stay unsettled to count as hanging. */
const HANG_MS = 300;
/** How soon a reset must reach the client's query. */
const RESET_NOTICE_MS_MAX = 2_000;

let cluster: Promise<{ pg: EmbeddedPostgres; port: number }> | undefined;

function tcpCluster(): Promise<{ pg: EmbeddedPostgres; port: number }> {
  cluster ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "tcp-proxy-test-" });
    // Open to the postgres user (when running as root) so that the cluster stays inside `dir`
    // instead of being relocated under /var/lib.
    await Deno.chmod(dir, 0o755);
    const port = freePort();
    const pg = await EmbeddedPostgres.start({
      dataDir: join(dir, "data"),
      settings: { ...TEST_CLUSTER_SETTINGS, listen_addresses: "'127.0.0.1'", port: String(port) },
    });
    globalThis.addEventListener("unload", () => {
      pg.stopSync();
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Best effort.
      }
    });
    return { pg, port };
  })();
  return cluster;
}

async function withProxy(test: (proxy: TcpProxy) => Promise<void>): Promise<void> {
  const { port } = await tcpCluster();
  const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: port });
  try {
    await test(proxy);
  } finally {
    await proxy.close();
  }
}

function client(proxy: TcpProxy, options: postgres.Options<Record<string, never>> = {}) {
  return postgres({
    host: "127.0.0.1",
    port: proxy.port,
    user: "postgres",
    database: "postgres",
    max: 1,
    onnotice: () => {},
    ...options,
  });
}

/** Records whether `promise` has settled, without leaving a rejection unhandled. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; result: Promise<unknown> } {
  let settled = false;
  const result = promise.then(
    (value) => {
      settled = true;
      return value;
    },
    (error: unknown) => {
      settled = true;
      return error;
    },
  );
  return { settled: () => settled, result };
}

Deno.test("TcpProxy passes queries, large results and a refused SSLRequest through", async () => {
  await withProxy(async (proxy) => {
    // ssl "prefer" sends an SSLRequest first; the cluster has no certificate and answers "N".
    const sql = client(proxy, { ssl: "prefer" });
    try {
      const [row] = await sql`select 1 + 1 as two`;
      assert.equal(row?.two, 2);
      // About 2 MB of rows: many reads and writes per direction, in order.
      const rows = await sql`select i, repeat('x', 200) as pad from generate_series(1, 10000) i`;
      assert.equal(rows.length, 10_000);
      assert.ok(rows.every((r, index) => r.i === index + 1 && r.pad.length === 200));
      assert.equal(proxy.connectionCount(), 1);
    } finally {
      await sql.end();
    }
    assert.equal(proxy.stats.accepted, 1);
  });
});

Deno.test("TcpProxy.resetAll makes the client's running query fail promptly", async () => {
  await withProxy(async (proxy) => {
    const sql = client(proxy);
    try {
      await sql`select 1`;
      const sleeping = watch(sql`select pg_sleep(10)`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      assert.equal(proxy.resetAll(), 1);
      const error = await sleeping.result;
      assert.ok(performance.now() - started < RESET_NOTICE_MS_MAX);
      assert.ok(error instanceof Error);
      assert.equal((error as Error & { code?: string }).code, "CONNECTION_CLOSED");
      assert.equal(proxy.stats.resets, 1);
      assert.equal(proxy.connectionCount(), 0);
      // The network itself still works: the pool reconnects through the proxy.
      const [row] = await sql`select 7 as seven`;
      assert.equal(row?.seven, 7);
    } finally {
      await sql.end({ timeout: 0 });
    }
  });
});

Deno.test("TcpProxy.resetRandom closes one pair and leaves the others working", async () => {
  await withProxy(async (proxy) => {
    const first = client(proxy);
    const second = client(proxy);
    try {
      await Promise.all([first`select 1`, second`select 1`]);
      assert.equal(proxy.connectionCount(), 2);
      const queries = [first, second].map((sql) => watch(sql`select pg_sleep(0.5) as slept`));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(proxy.resetRandom(1), 1);
      const results = await Promise.all(queries.map((query) => query.result));
      const failed = results.filter((result) => result instanceof Error);
      assert.equal(failed.length, 1);
      assert.equal(proxy.connectionCount(), 1);
    } finally {
      // timeout 0: postgres.js 3.4.7 never ends a connection that lost a running query
      // (porsager/postgres#1097), so a plain end() would hang.
      await Promise.all([first.end({ timeout: 0 }), second.end({ timeout: 0 })]);
    }
  });
});

Deno.test("TcpProxy.blackhole makes queries and new connections hang until closed", async () => {
  await withProxy(async (proxy) => {
    const sql = client(proxy);
    const late = client(proxy, { connect_timeout: 30 });
    try {
      await sql`select 1`;
      proxy.blackhole();
      const hung = watch(sql`select 1 as one`);
      // A connection made during the black hole is accepted but never answered.
      const hungConnect = watch(late`select 1 as one`);
      await new Promise((resolve) => setTimeout(resolve, HANG_MS));
      assert.equal(hung.settled(), false);
      assert.equal(hungConnect.settled(), false);
      assert.equal(proxy.stats.blackholed, 2);
      assert.equal(proxy.connectionCount(), 2);

      proxy.heal();
      // New connections work again; the black-holed ones stay silent (documented choice).
      const fresh = client(proxy);
      try {
        const [row] = await fresh`select 3 as three`;
        assert.equal(row?.three, 3);
      } finally {
        await fresh.end();
      }
      assert.equal(hung.settled(), false);
      assert.equal(hungConnect.settled(), false);

      // Whoever gives up first ends them: here a reset, as an operator's kill would. The
      // established connection loses its query; the one still starting up is retried by
      // postgres.js on the healed network and succeeds.
      assert.equal(proxy.resetAll(), 2);
      assert.ok((await hung.result) instanceof Error);
      assert.deepEqual([...(await hungConnect.result as Iterable<unknown>)], [{ one: 1 }]);
    } finally {
      await Promise.all([sql.end({ timeout: 0 }), late.end({ timeout: 0 })]);
    }
  });
});

Deno.test("TcpProxy.close ends every pair, held ones included, and every loop", async () => {
  const { port } = await tcpCluster();
  const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: port });
  const sql = client(proxy);
  const held = client(proxy);
  try {
    await sql`select 1`;
    proxy.blackhole();
    const hungQuery = watch(sql`select 1`);
    const hungConnect = watch(held`select 1`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await proxy.close();
    assert.equal(proxy.connectionCount(), 0);
    assert.ok((await hungQuery.result) instanceof Error);
    assert.ok((await hungConnect.result) instanceof Error);
  } finally {
    await Promise.all([sql.end({ timeout: 0 }), held.end({ timeout: 0 })]);
    await proxy.close();
  }
});

Deno.test("TcpProxy ends a client's connection when the target refuses", async () => {
  const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: freePort() });
  // A raw socket, not postgres.js: postgres.js retries a connection closed during startup at
  // once and forever (its connect_timeout restarts with each try), so it would never fail.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  try {
    assert.equal(await conn.read(new Uint8Array(16)), null);
    assert.equal(proxy.connectionCount(), 0);
    assert.equal(proxy.stats.accepted, 1);
  } finally {
    conn.close();
    await proxy.close();
  }
});
