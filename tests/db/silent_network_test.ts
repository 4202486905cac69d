/**
 * The leased pool behind a network that goes silent (a TCP proxy that stops forwarding without
 * closing anything, then forwards new connections again): a lease waiting for an answer that was
 * lost is destroyed as silent, not left to its deadline; the idle connections, black-holed with
 * it, are dropped rather than lent to the next caller; and the session probe, whose own
 * connection went silent too, asks again on a new one instead of answering "unknown".
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  DeadlineError,
  type Lease,
  poolStats,
  SilenceError,
} from "../../src/db/connection_pool.ts";
import { makeDatabase, openPool } from "../../src/db/database.ts";
import { SessionProbe } from "../../src/db/session_probe.ts";
import { startEmbeddedCluster } from "../support/faults/embedded_cluster.ts";
import type { FaultCluster } from "../support/faults/pg_cluster.ts";
import { TcpProxy } from "../support/faults/tcp_proxy.ts";
import { testDatabaseConfig } from "../support/harness.ts";

/** Far beyond anything the checks here wait for: reaching it means the silence went unseen. */
const LEASE_MS = 120_000;

async function withProxiedCluster(
  test: (cluster: FaultCluster, proxy: TcpProxy) => Promise<void>,
): Promise<void> {
  const cluster = await startEmbeddedCluster();
  const proxy = await TcpProxy.start({ targetHost: cluster.host, targetPort: cluster.port });
  try {
    await test(cluster, proxy);
  } finally {
    await proxy.close();
    await cluster.close();
  }
}

async function backendPid(lease: Lease): Promise<number> {
  const [row] = await lease.race(lease.sql`SELECT pg_backend_pid() AS pid`.execute());
  return row!.pid as number;
}

Deno.test("a lease whose answer a silent network lost is destroyed as silent, and the idle connections go with it", async () => {
  await withProxiedCluster(async (cluster, proxy) => {
    const db = makeDatabase(
      { kind: "url", url: cluster.url("postgres", proxy.port) },
      testDatabaseConfig({ poolSize: 2, operationTimeoutMs: LEASE_MS }),
      "exchange-silence",
      "proxied test cluster",
      undefined,
    );
    try {
      // Two connections, both opened and idle in the pool before the network goes silent.
      const first = await db.pool.acquire(performance.now() + 10_000, performance.now() + LEASE_MS);
      const second = await db.pool.acquire(
        performance.now() + 10_000,
        performance.now() + LEASE_MS,
      );
      const before = [await backendPid(first), await backendPid(second)];
      first.release();
      second.release();
      const droppedBefore = poolStats.droppedIdle;
      const silentBefore = poolStats.silent;

      proxy.blackhole();
      const lease = await db.pool.acquire(performance.now() + 10_000, performance.now() + LEASE_MS);
      const waiting = lease.race(lease.sql`SELECT 1`.execute()).then(
        () => undefined,
        (error: unknown) => error,
      );
      // The network heals for new connections; this one's pair stays silent, as after a real
      // outage its bytes are gone. The probe, on a new connection, finds the session idle.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      proxy.heal();
      const error = await waiting;
      ok(error instanceof SilenceError, `destroyed as silent, not at its deadline: ${error}`);
      ok(error instanceof DeadlineError, "classified like a deadline (unavailable)");
      lease.release();
      strictEqual(poolStats.silent - silentBefore, 1);
      strictEqual(poolStats.droppedIdle - droppedBefore, 1, "the other idle connection dropped");

      // Both slots now open new connections, which answer: neither is a black-holed one.
      const third = await db.pool.acquire(performance.now() + 10_000, performance.now() + LEASE_MS);
      const fourth = await db.pool.acquire(
        performance.now() + 10_000,
        performance.now() + LEASE_MS,
      );
      const after = [await backendPid(third), await backendPid(fourth)];
      third.release();
      fourth.release();
      deepStrictEqual(after.filter((pid) => before.includes(pid)), []);
    } finally {
      await db.abandon();
    }
  });
});

Deno.test("the session probe asks again on a new connection when its own went silent", async () => {
  await withProxiedCluster(async (cluster, proxy) => {
    const config = testDatabaseConfig({ poolSize: 1 });
    const opened: ReturnType<typeof openPool>[] = [];
    const probe = new SessionProbe(() => {
      const sql = openPool(
        { kind: "url", url: cluster.url("postgres", proxy.port) },
        config,
        "exchange-probe-test",
        { fetchTypes: false },
      );
      opened.push(sql);
      return sql;
    }, 1_000);
    try {
      deepStrictEqual(await probe.state("no-such-session"), { kind: "gone" });
      // The probe's connection is swallowed; connections made from now on are forwarded.
      proxy.blackhole();
      proxy.heal();
      deepStrictEqual(await probe.state("no-such-session"), { kind: "gone" });
      strictEqual(opened.length, 2, "the silent connection was replaced within one question");
    } finally {
      await probe.end();
      await Promise.all(opened.map((sql) => sql.end({ timeout: 0 })));
    }
  });
});
