/** SQL for accounts. */
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Database } from "./database.ts";
import { isUniqueViolation } from "./errors.ts";
import { done, inTransaction, type Outcome, refused } from "./transaction.ts";

/**
 * Creates an account holding `balance` and no positions.
 * Round trips: 1 (BEGIN, INSERT, COMMIT). A duplicate id fails the INSERT on the primary key,
 * so two concurrent creations of one id cannot both succeed.
 */
export function createAccount(db: Database, id: string, balance: Decimal): Promise<Outcome<void>> {
  const amount = formatDecimal(balance);
  return inTransaction(db, (tx) =>
    Promise.resolve({
      deferred: tx`INSERT INTO accounts (id, balance, deposited) VALUES (${id}, ${amount}, ${amount})`
        .execute()
        .then(
          () => done(undefined),
          (error) => {
            if (isUniqueViolation(error)) {
              return refused<void>("Account already exists");
            }
            throw error;
          },
        ),
    }));
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
