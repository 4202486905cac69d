/** SQL for accounts. */
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Database } from "./database.ts";
import { done, inTransaction, type Outcome, refused } from "./transaction.ts";

/**
 * Creates an account holding `balance` and no positions.
 * Round trips: 2 (BEGIN + INSERT pipelined; COMMIT).
 */
export function createAccount(db: Database, id: string, balance: Decimal): Promise<Outcome<void>> {
  return inTransaction(db, async (tx) => {
    const amount = formatDecimal(balance);
    // ON CONFLICT instead of a check-then-insert: two concurrent creations cannot both succeed.
    const rows = await tx`
      INSERT INTO accounts (id, balance, deposited) VALUES (${id}, ${amount}, ${amount})
      ON CONFLICT (id) DO NOTHING
      RETURNING id`;
    return rows.length === 1 ? done(undefined) : refused("Account already exists");
  });
}

/**
 * True if the account exists. Accounts are never deleted, so the answer cannot go stale in a
 * way that matters: an account seen here still exists when its operations run.
 * Round trips: 1 (a single read; no locks, no transaction needed).
 */
export async function accountExists(db: Database, id: string): Promise<boolean> {
  const rows = await db.sql`SELECT 1 FROM accounts WHERE id = ${id}`;
  return rows.length === 1;
}
