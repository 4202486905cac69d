/**
 * The order path never scans a table sequentially, even with plans made while the tables were
 * nearly empty (database.ts, KEYED_ONLY_PLANNER). Generic plans are made on each statement's
 * first call in a session; on a fresh exchange a sequential scan is then the cheapest plan, and
 * PostgreSQL keeps it until a vacuum or analyze changes the table's statistics: on a server with
 * default autovacuum settings, the apply call's UPDATE of filled orders scanned the whole
 * `orders` table on every batch for over a minute. The evidence here is PostgreSQL's own
 * per-table counters of sequential and index scans, not timing.
 */
import { ok, strictEqual } from "node:assert/strict";
import type { Database, Sql } from "../../src/db/database.ts";
import { withLease } from "../../src/db/transaction.ts";
import { freshDatabase, startTestServer } from "../support/harness.ts";
import { createAccounts, mint, placeOrder, query, transact } from "../trading/exchange_fixture.ts";

const TABLES = ["accounts", "symbols", "positions", "orders", "executions"];
const FILLS = 6;

interface Scans {
  seq: number;
  idx: number;
  updated: number;
}

Deno.test("orders, fills, cancels and queries on a fresh exchange use no sequential scan", async () => {
  // One leased session and one tools session: every statement of the order path runs in the
  // session whose plans were made on the empty tables, and its counters can be waited for.
  const db = await freshDatabase({ poolSize: 1 });
  const server = await startTestServer({ db });
  try {
    await createAccounts(server.port, { "1": "100000", "2": "0" });
    await mint(server.port, "X", { "2": "1000" });
    // The migrations and the set-up ran in the leased session: have it report its counters
    // (a backend reports when it next goes idle), then count from zero.
    await flushCounters(db);
    await db.sql`SELECT pg_stat_reset()`;

    const sells: string[] = [];
    for (let i = 0; i < FILLS; i++) {
      sells.push(await placeOrder(server.port, "2", "X", "-4", "5"));
      await placeOrder(server.port, "1", "X", "4", "5");
    }
    const resting = await placeOrder(server.port, "2", "X", "-4", "9");
    const canceled = await transact(server.port, "2", `<cancel id="${resting}"/>`);
    strictEqual(canceled[0]?.name, "canceled");
    ok((await query(server.port, "2", sells[1]!)).includes("executed"));

    await flushCounters(db);
    const scans = await readCounters(db.sql);
    // Each fill updated one resting sell, and the cancel one more: the counters are complete.
    strictEqual(scans.get("orders")?.updated, FILLS + 1);
    for (const table of TABLES) {
      strictEqual(scans.get(table)?.seq, 0, `sequential scans of ${table}`);
    }
    ok(scans.get("orders")!.idx > 0, "the orders were read by index");
  } finally {
    await server.close();
  }
});

/** Makes the one leased session report its pending counters, as it goes idle. */
async function flushCounters(db: Database): Promise<void> {
  await withLease(db, (sql) => sql`SELECT pg_stat_force_next_flush()`.execute());
  // A statement after it: its session has gone idle (and reported) before answering again.
  await withLease(db, (sql) => sql`SELECT 1`.execute());
}

async function readCounters(sql: Sql): Promise<Map<string, Scans>> {
  // A new snapshot of the statistics every time (they are cached per transaction otherwise).
  await sql`SELECT pg_stat_clear_snapshot()`;
  const rows = await sql`
    SELECT relname, seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx,
           n_tup_upd::int AS updated
    FROM pg_stat_user_tables WHERE relname = ANY(${TABLES})`;
  return new Map(rows.map((r) => [r.relname as string, r as unknown as Scans]));
}
