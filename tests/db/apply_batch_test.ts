/**
 * exchange_apply_batch's own check of execution references (migrations/007, kept by 008), which
 * replaced the executions table's foreign keys: an execution must name an order the same call
 * updated or inserted, or nothing is written.
 */
import { deepStrictEqual, rejects } from "node:assert/strict";
import type { ReservedSql } from "../../src/db/database.ts";
import { pgArray } from "../../src/db/pg_array.ts";
import { freshDatabase } from "../support/harness.ts";

/**
 * One call in its own transaction, rolled back: account 1 buys one share from stored sell 1
 * (changed by the call); `buys` and `sells` are the executions' order refs (-1: the new buy).
 */
async function apply(session: ReservedSql, buys: string[], sells: string[]) {
  await session`BEGIN`;
  try {
    const [row] = await session`
      SELECT exchange_apply_batch(
        '{X}'::text[], '{1,2}'::text[], '{1}'::text[], '{100}'::numeric[],
        '{X}'::text[], '{1}'::text[], '{1}'::numeric[], '{10}'::numeric[], '{0}'::numeric[],
        '{0}'::numeric[], '{GTC}'::text[], '{none}'::text[], '{""}'::text[],
        '{1}'::bigint[], '{0}'::numeric[], '{0}'::numeric[],
        ${pgArray(buys)}::bigint[], ${pgArray(sells)}::bigint[],
        ${pgArray(buys.map(() => "1"))}::numeric[], ${pgArray(buys.map(() => "10"))}::numeric[],
        '{1,2}'::text[], '{-10,10}'::numeric[],
        '{1}'::text[], '{X}'::text[], '{1}'::numeric[],
        '{}'::text[], '{}'::text[], '{}'::numeric[])::text AS ids`;
    return row!.ids as string;
  } finally {
    await session`ROLLBACK`;
  }
}

Deno.test("exchange_apply_batch refuses an execution naming an order outside the batch", async () => {
  const db = await freshDatabase();
  const session = await db.sql.reserve();
  try {
    await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 100, 100), ('2', 0, 0)`;
    await db.sql`INSERT INTO symbols (sym, minted) VALUES ('X', 2)`;
    await db.sql`INSERT INTO positions (account_id, sym, shares) VALUES ('2', 'X', 0)`;
    // Stored sells 1 (the one the batch fills) and 2 (untouched by it), one share each at 10.
    await db.sql`INSERT INTO orders (id, account_id, sym, amount, limit_price, open_shares,
                                     created_at)
                 SELECT nextval('order_ids'), '2', 'X', -1, 10, 1, 0 FROM generate_series(1, 2)`;
    const drawn = await apply(session, ["-1"], ["1"]);
    deepStrictEqual(drawn, "{3}");
    const outside = /an execution names an order outside the batch/;
    // A stored order the call did not change, one that does not exist, a new order not drawn.
    await rejects(apply(session, ["-1"], ["2"]), outside);
    await rejects(apply(session, ["-1"], ["999"]), outside);
    await rejects(apply(session, ["-2"], ["1"]), outside);
    await rejects(apply(session, ["0"], ["1"]), outside);
    deepStrictEqual((await db.sql`SELECT count(*)::int AS n FROM executions`)[0]!.n, 0);
  } finally {
    session.release();
    await db.close();
  }
});
