/**
 * The fault suite's checks can fail: a ledger that contradicts the database (an acknowledged
 * order missing, an order answered "unavailable" present, a cancel acknowledged but not done, a
 * dead server, a slow recovery) fails exactly the checks that guard against it, and a ledger
 * that matches passes them.
 */
import { deepStrictEqual } from "node:assert/strict";
import { runChecks } from "../support/faults/checks.ts";
import { Ledger } from "../support/faults/ledger.ts";
import { freshDatabase } from "../support/harness.ts";

const healthy = {
  exitedEarly: undefined,
  recoveriesMs: [120],
  unhandledErrors: 0,
  stderr: "",
};

/** A database holding one open buy of 2 FA @ 50.0000011 by account 1 (cash exact). */
async function oneOrderDatabase() {
  const db = await freshDatabase();
  await db.sql`INSERT INTO accounts (id, balance, deposited) VALUES ('1', 899.9999978, 1000)`;
  await db.sql`INSERT INTO symbols (sym, minted) VALUES ('FA', 0)`;
  const [row] = await db.sql`
    INSERT INTO orders (account_id, sym, amount, limit_price, open_shares, created_at)
    VALUES ('1', 'FA', 2, 50.0000011, 2, 0) RETURNING id::text AS id`;
  return { db, id: row!.id as string };
}

function failedChecks(results: Array<{ name: string; ok: boolean }>): string[] {
  return results.filter((r) => !r.ok).map((r) => r.name.split(" ")[0]!);
}

Deno.test("runChecks passes a ledger that matches the database", async () => {
  const { db, id } = await oneOrderDatabase();
  try {
    const ledger = new Ledger();
    ledger.orders.push({
      account: "1",
      sym: "FA",
      amount: "2",
      limit: "50.0000011",
      answer: "acknowledged",
      id,
    });
    ledger.orders.push({
      account: "1",
      sym: "FA",
      amount: "3",
      limit: "50.0000021",
      answer: "in_doubt",
    });
    const outcome = await runChecks(db.sql, ledger, healthy);
    deepStrictEqual(failedChecks(outcome.results), []);
    deepStrictEqual(outcome.doubts, { committed: 0, notCommitted: 1 });
  } finally {
    await db.close();
  }
});

Deno.test("runChecks fails each check whose promise the run broke", async () => {
  const { db, id } = await oneOrderDatabase();
  try {
    const ledger = new Ledger();
    // Acknowledged, but not in the database.
    ledger.orders.push({
      account: "1",
      sym: "FA",
      amount: "5",
      limit: "50.0000031",
      answer: "acknowledged",
      id: "424242",
    });
    // Answered "nothing happened", but it is there.
    ledger.orders.push({
      account: "1",
      sym: "FA",
      amount: "2",
      limit: "50.0000011",
      answer: "unavailable",
      text: "Service unavailable",
    });
    // Cancel acknowledged, order still open.
    ledger.cancels.push({ account: "1", orderId: id, answer: "acknowledged" });
    ledger.request(13_000, "no answer after 15000 ms");
    const outcome = await runChecks(db.sql, ledger, {
      exitedEarly: { success: false, code: 1, signal: null },
      recoveriesMs: [120, 6_000],
      unhandledErrors: 2,
      stderr: "error: Uncaught (in promise) PostgresError: terminating connection",
    });
    deepStrictEqual(failedChecks(outcome.results), ["1", "2", "3", "4", "3b", "8", "9", "10"]);
  } finally {
    await db.close();
  }
});

Deno.test("runChecks fails on an order placed twice and on cash that does not add up", async () => {
  const { db, id } = await oneOrderDatabase();
  try {
    // The same order again, without taking its cash: placed twice, and the audit is off.
    await db.sql`
      INSERT INTO orders (account_id, sym, amount, limit_price, open_shares, created_at)
      VALUES ('1', 'FA', 2, 50.0000011, 2, 0)`;
    const ledger = new Ledger();
    ledger.orders.push({
      account: "1",
      sym: "FA",
      amount: "2",
      limit: "50.0000011",
      answer: "acknowledged",
      id,
    });
    const outcome = await runChecks(db.sql, ledger, healthy);
    deepStrictEqual(failedChecks(outcome.results), ["3", "5", "6"]);
  } finally {
    await db.close();
  }
});
