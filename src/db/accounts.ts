/** SQL for accounts. */
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Database } from "./database.ts";
import { isUniqueViolation } from "./errors.ts";
import { done, inTransaction, type Outcome, refused, withLease } from "./transaction.ts";

/**
 * Creates an account holding `balance` and no positions.
 * Round trips: 2 (BEGIN, the helper's identity read and INSERT; then COMMIT, sent once the
 * transaction's id is known, see transaction.ts). A duplicate id fails the INSERT on the primary key,
 * so two concurrent creations of one id cannot both succeed.
 */
export function createAccount(db: Database, id: string, balance: Decimal): Promise<Outcome<void>> {
  const amount = formatDecimal(balance);
  return inTransaction(db, (tx) =>
    Promise.resolve({
      deferred:
        tx`INSERT INTO accounts (id, balance, deposited) VALUES (${id}, ${amount}, ${amount})`
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

/** Most account ids remembered as existing by one process. */
export const KNOWN_ACCOUNTS_MAX = 100_000;

/**
 * Account ids seen to exist, per pool (so per database). Accounts are never deleted (and
 * `--reset` only runs before the server listens), so once an id exists it exists for good and
 * the answer can be remembered; only "exists" is cached, never "missing". Bounded: the oldest
 * entry goes when it is full.
 */
const knownAccounts = new WeakMap<Database["pool"], Set<string>>();

function remember(known: Set<string>, id: string): void {
  if (known.size >= KNOWN_ACCOUNTS_MAX) {
    const oldest = known.values().next();
    if (!oldest.done) {
      known.delete(oldest.value);
    }
  }
  known.add(id);
}

/**
 * True if the account exists; fails unavailable past `deadline` (a `performance.now()` time; by
 * default the operation timeout from now).
 * Round trips: 0 for an account already seen to exist, else 1 (a single read, no locks).
 */
export async function accountExists(
  db: Database,
  id: string,
  deadline?: number,
): Promise<boolean> {
  let known = knownAccounts.get(db.pool);
  if (known === undefined) {
    known = new Set();
    knownAccounts.set(db.pool, known);
  }
  if (known.has(id)) {
    return true;
  }
  const rows = await withLease(
    db,
    (sql) => sql`SELECT 1 FROM accounts WHERE id = ${id}`.execute(),
    deadline,
  );
  if (rows.length === 1) {
    remember(known, id);
    return true;
  }
  return false;
}
