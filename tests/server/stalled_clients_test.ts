/**
 * Connections that only the server can end: one whose request is still running when shutdown's
 * grace period is over, and one whose client never reads its answers.
 */
import { ok, strictEqual } from "node:assert/strict";
import { encodeResponse } from "../../src/framing/response_encoder_stream.ts";
import type { Sql } from "../../src/db/database.ts";
import { startTestServer } from "../support/harness.ts";
import { beginHolding } from "../support/lock_wait.ts";

/** Waits until `condition` holds, polling; false if it still does not after `limitMs`. */
async function eventually(condition: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** True once a session of this database waits for a lock (within 10 s). */
async function waitingOnLock(sql: Sql): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    const rows = await sql`
      SELECT 1 FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    if (rows.length > 0) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** Everything the peer sends until it closes (a reset counts as a close). */
async function readAll(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const count = await conn.read(buffer).catch(() => null);
    if (count === null) {
      return total;
    }
    total += count;
  }
}

Deno.test("shutdown closes a connection whose request outlasts the grace period, unanswered", async () => {
  const server = await startTestServer();
  const blocker = await server.db.sql.reserve();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // An uncommitted account "1" makes the server's insert of the same id wait for its lock.
    await beginHolding(blocker);
    await blocker`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 0, 0)`;
    const xml = `<create><account id="1" balance="5"/></create>`;
    await conn.write(encodeResponse("binary", xml));
    ok(await waitingOnLock(server.db.sql), "the request waits for the row lock");
    const stopping = server.server.shutdown(100);
    // The socket closes when the grace period is over, while the request still waits.
    strictEqual(await readAll(conn), 0, "closed without an answer");
    ok(await waitingOnLock(server.db.sql), "the request still waits");
    // Shutdown resolves once the abandoned request has finished in the database.
    await blocker`ROLLBACK`;
    await stopping;
    strictEqual(server.server.connectionCount, 0);
  } finally {
    await blocker`ROLLBACK`;
    blocker.release();
    conn.close();
    await server.close();
  }
});

Deno.test("server closes a connection whose client does not read its answers", async () => {
  // The deadline for a client that does not read is the frame timeout. At 1 s (not less), a
  // loaded machine slowing this in-process client's 900 kB writes does not end the connection
  // first for a frame that takes too long to arrive, which is not what this test is about.
  const server = await startTestServer({ limits: { frameTimeoutMs: 1_000 } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // Each request is answered with an error that echoes its 900 kB attribute; 24 such answers
    // are more than the socket buffers of both ends hold, so the server's write blocks.
    const request = encodeResponse("binary", `<create><x a="${"y".repeat(900_000)}"/></create>`);
    const writing = (async () => {
      for (let i = 0; i < 24; i++) {
        for (let offset = 0; offset < request.length;) {
          offset += await conn.write(request.subarray(offset));
        }
      }
    })().catch(() => {});
    ok(await eventually(() => server.server.connectionCount === 1, 5_000));
    ok(
      await eventually(() => server.server.connectionCount === 0, 30_000),
      "the connection is closed although its client never reads",
    );
    await writing;
  } finally {
    conn.close();
    await server.close();
  }
});
