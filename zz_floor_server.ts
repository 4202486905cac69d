// Floor of "a TCP server in front of PostgreSQL": each request runs one write transaction.
// mode 1rt: BEGIN; UPDATE; COMMIT pipelined (one round trip); mode 2rt: BEGIN; UPDATE, then
// INSERT; COMMIT (two round trips).
import postgres from "postgres";
const [port, mode, url] = [Number(Deno.args[0]), Deno.args[1], Deno.args[2]];
const sql = postgres(url, { max: 4, prepare: true, fetch_types: false });
await sql`SELECT 1`; // postgres.js reserve() waits forever before a first connection
const listener = Deno.listen({ port, hostname: "127.0.0.1" });
let aid = 0;
async function txn(): Promise<void> {
  const reserved = await sql.reserve();
  try {
    const id = (aid++ % 1000000) + 1;
    if (mode === "1rt9") {
      const extra = Array.from(
        { length: 6 },
        () => reserved`SELECT abalance FROM pgbench_accounts WHERE aid = ${id}`.execute(),
      );
      await Promise.all([
        reserved`BEGIN`.execute(),
        ...extra,
        reserved`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = ${id}`.execute(),
        reserved`COMMIT`.execute(),
      ]);
    } else if (mode === "1rt") {
      await Promise.all([
        reserved`BEGIN`.execute(),
        reserved`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = ${id}`.execute(),
        reserved`COMMIT`.execute(),
      ]);
    } else {
      await Promise.all([
        reserved`BEGIN`.execute(),
        reserved`SELECT abalance FROM pgbench_accounts WHERE aid = ${id}`.execute(),
      ]);
      await Promise.all([
        reserved`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = ${id}`.execute(),
        reserved`COMMIT`.execute(),
      ]);
    }
  } finally {
    reserved.release();
  }
}
for await (const conn of listener) {
  (async () => {
    const buf = new Uint8Array(65536);
    let have = 0;
    while (true) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) break;
      have += n;
      while (have >= 4) {
        const len = new DataView(buf.buffer).getUint32(0);
        if (have < 4 + len) break;
        buf.copyWithin(0, 4 + len, have);
        have -= 4 + len;
        await txn();
        const reply = new TextEncoder().encode("<results/>");
        const out = new Uint8Array(4 + reply.length);
        new DataView(out.buffer).setUint32(0, reply.length);
        out.set(reply, 4);
        await conn.write(out);
      }
    }
    conn.close();
  })();
}
