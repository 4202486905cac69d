/**
 * The leased pool behind a network that goes silent (a TCP proxy that stops forwarding without
 * closing anything, then forwards new connections again): a lease waiting for an answer that was
 * lost is destroyed as silent, not left to its deadline; the idle connections, black-holed with
 * it, are dropped rather than lent to the next caller; and the session probe, whose own
 * connection went silent too, asks again on a new one instead of answering "unknown".
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  answerLost,
  DeadlineError,
  type Lease,
  poolStats,
  SilenceError,
} from "../../src/db/connection_pool.ts";
import { type Database, makeDatabase, openPool } from "../../src/db/database.ts";
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

/** The server's pools on `cluster` through `proxy`, leases lasting {@link LEASE_MS}. */
function proxiedDatabase(cluster: FaultCluster, proxy: TcpProxy, poolSize: number): Database {
  return makeDatabase(
    { kind: "url", url: cluster.url("postgres", proxy.port) },
    testDatabaseConfig({ poolSize, operationTimeoutMs: LEASE_MS }),
    "exchange-silence",
    "proxied test cluster",
    undefined,
  );
}

function acquireLease(db: Database): Promise<Lease> {
  return db.pool.acquire(performance.now() + 10_000, performance.now() + LEASE_MS);
}

async function backendPid(lease: Lease): Promise<number> {
  const [row] = await lease.race(lease.sql`SELECT pg_backend_pid() AS pid`.execute());
  return row!.pid as number;
}

Deno.test("a lease whose answer a silent network lost is destroyed as silent, and the idle connections go with it", async () => {
  await withProxiedCluster(async (cluster, proxy) => {
    const db = proxiedDatabase(cluster, proxy, 2);
    try {
      // Two connections, both opened and idle in the pool before the network goes silent.
      const first = await acquireLease(db);
      const second = await acquireLease(db);
      const before = [await backendPid(first), await backendPid(second)];
      first.release();
      second.release();
      const droppedBefore = poolStats.droppedIdle;
      const silentBefore = poolStats.silent;

      proxy.blackhole();
      const lease = await acquireLease(db);
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
      const third = await acquireLease(db);
      const fourth = await acquireLease(db);
      const after = [await backendPid(third), await backendPid(fourth)];
      third.release();
      fourth.release();
      deepStrictEqual(after.filter((pid) => before.includes(pid)), []);
    } finally {
      await db.abandon();
    }
  });
});

Deno.test("after a silence only the connections not heard from since are distrusted", async () => {
  await withProxiedCluster(async (cluster, proxy) => {
    const db = proxiedDatabase(cluster, proxy, 3);
    const acquire = () => acquireLease(db);
    try {
      // Two connections opened before the network goes silent, idle in the pool.
      const early = [await acquire(), await acquire()];
      for (const lease of early) {
        await backendPid(lease);
        lease.release();
      }
      proxy.blackhole();
      proxy.heal();
      // Both black-holed connections are lent, and their statements go unanswered...
      const stuck = [await acquire(), await acquire()];
      const outcomes = stuck.map((lease) =>
        lease.race(lease.sql`SELECT 1`.execute()).then(
          () => undefined,
          (error: unknown) => error,
        )
      );
      // ...while the third slot opens a connection after the silence, which answers.
      const late = await acquire();
      const latePid = await backendPid(late);
      late.release();
      const droppedBefore = poolStats.droppedIdle;

      for (const error of await Promise.all(outcomes)) {
        ok(error instanceof SilenceError, `destroyed as silent: ${error}`);
      }
      for (const lease of stuck) {
        lease.release();
      }
      strictEqual(poolStats.droppedIdle - droppedBefore, 0, "the connection heard since stays");
      // Lending all three: one is still the connection opened after the silence.
      const all = [await acquire(), await acquire(), await acquire()];
      const pids = [];
      for (const lease of all) {
        pids.push(await backendPid(lease));
        lease.release();
      }
      ok(pids.includes(latePid), `${latePid} in ${pids}`);
    } finally {
      await db.abandon();
    }
  });
});

Deno.test("a connection heard after the lost statement was sent, but before its answer was lost, is distrusted too", async () => {
  await withProxiedCluster(async (cluster, proxy) => {
    const db = proxiedDatabase(cluster, proxy, 2);
    const acquire = () => acquireLease(db);
    try {
      const slow = await acquire();
      await backendPid(slow);
      // The statement is sent; while PostgreSQL sleeps on it, another connection is heard from.
      const outcome = slow.race(slow.sql`SELECT pg_sleep(2)`.execute()).then(
        () => undefined,
        (error: unknown) => error,
      );
      const heard = await acquire();
      const heardPid = await backendPid(heard);
      heard.release();
      // The network goes silent before the sleep's answer comes back: the answer is lost.
      proxy.blackhole();
      proxy.heal();
      const droppedBefore = poolStats.droppedIdle;
      const error = await outcome;
      ok(error instanceof SilenceError, `destroyed as silent: ${error}`);
      slow.release();
      // Heard after the statement was sent, but before the answer was lost: just as silent.
      strictEqual(poolStats.droppedIdle - droppedBefore, 1, "the idle connection dropped");
      const again = [await acquire(), await acquire()];
      const pids = [];
      for (const lease of again) {
        pids.push(await backendPid(lease));
        lease.release();
      }
      ok(!pids.includes(heardPid), `${heardPid} not lent again: ${pids}`);
    } finally {
      await db.abandon();
    }
  });
});

Deno.test("a session whose pipelined messages were cut off is seen waiting for its client", async () => {
  await withProxiedCluster(async (cluster) => {
    const probeConfig = testDatabaseConfig({ poolSize: 1 });
    const probe = new SessionProbe(
      () =>
        openPool(
          { kind: "url", url: cluster.url("postgres") },
          probeConfig,
          "exchange-probe-test",
          { fetchTypes: false },
        ),
      5_000,
    );
    // A client that sent Parse and never the rest (Bind, Execute, Sync), as when a network
    // swallows the tail of a pipeline: the backend is `active`, reading from its client.
    const conn = await Deno.connect({ hostname: cluster.host, port: cluster.port });
    try {
      await conn.write(
        startupMessage({ user: cluster.user, database: "postgres", application_name: "cut-off" }),
      );
      await readUntilReady(conn);
      await conn.write(parseMessage("SELECT 1"));
      let state = await probe.state("cut-off");
      for (let tries = 0; tries < 200 && state.kind !== "waiting_for_client"; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        state = await probe.state("cut-off");
      }
      strictEqual(state.kind, "waiting_for_client");
    } finally {
      conn.close();
      await probe.end();
    }
  });
});

/** PostgreSQL's StartupMessage (protocol 3.0) with the given parameters. */
function startupMessage(parameters: Record<string, string>): Uint8Array {
  const body = new TextEncoder().encode(
    Object.entries(parameters).map(([key, value]) => `${key}\0${value}\0`).join("") + "\0",
  );
  const message = new Uint8Array(8 + body.length);
  const view = new DataView(message.buffer);
  view.setInt32(0, message.length);
  view.setInt32(4, 196608); // 3.0
  message.set(body, 8);
  return message;
}

/** A Parse message of an unnamed statement without parameter types. */
function parseMessage(query: string): Uint8Array {
  const text = new TextEncoder().encode(`\0${query}\0`);
  const message = new Uint8Array(1 + 4 + text.length + 2);
  const view = new DataView(message.buffer);
  message[0] = "P".charCodeAt(0);
  view.setInt32(1, message.length - 1);
  message.set(text, 5);
  view.setInt16(5 + text.length, 0);
  return message;
}

/** Reads the server's messages until ReadyForQuery ('Z') after a trusted start-up. */
async function readUntilReady(conn: Deno.TcpConn): Promise<void> {
  let buffered = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    let offset = 0;
    while (buffered.length - offset >= 5) {
      const type = String.fromCharCode(buffered[offset]!);
      const length = new DataView(buffered.buffer, buffered.byteOffset + offset + 1).getInt32(0);
      if (buffered.length - offset < 1 + length) {
        break;
      }
      if (type === "E") {
        throw new Error("PostgreSQL refused the start-up");
      }
      if (type === "Z") {
        return;
      }
      offset += 1 + length;
    }
    const read = await conn.read(chunk);
    if (read === null) {
      throw new Error("PostgreSQL closed the connection during start-up");
    }
    const next = new Uint8Array(buffered.length - offset + read);
    next.set(buffered.subarray(offset));
    next.set(chunk.subarray(0, read), buffered.length - offset);
    buffered = next;
  }
}

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
      ok(opened.length >= 2, "the question was asked again on a new connection");
    } finally {
      await probe.end();
      await Promise.all(opened.map((sql) => sql.end({ timeout: 0 })));
    }
  });
});

Deno.test("answerLost: an answer lost on the way, or a statement that never arrived", () => {
  // Waited half a second for an answer its session sent half a second ago or more.
  strictEqual(answerLost(1_000, 600), true);
  strictEqual(answerLost(1_000, 100), false, "answered a moment ago: the answer may be on its way");
  // The session has waited for us since well before the statement was sent.
  strictEqual(answerLost(50, 3_500), true);
  strictEqual(answerLost(50, 400), false, "idle a little longer than we waited: not enough");
});
