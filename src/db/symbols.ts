/** SQL for symbols and the minting of shares into positions. */
import { type Decimal, formatDecimal } from "../exchange/decimal.ts";
import type { Database } from "./database.ts";
import { requirementFailure } from "./errors.ts";
import { done, inTransaction, type Outcome, refused } from "./transaction.ts";

/**
 * Creates `sym` if new and adds `shares` of it to the account's position.
 * Locks (global order): the symbol row (level 1) by the upsert, then the account (level 3),
 * then the position (level 4) by its upsert.
 * Round trips: 2 (BEGIN, the helper's identity read, symbol upsert, account lock and check,
 * position upsert; then COMMIT once the transaction's id is known, see transaction.ts).
 */
export function mintShares(
  db: Database,
  sym: string,
  accountId: string,
  shares: Decimal,
): Promise<Outcome<void>> {
  const amount = formatDecimal(shares);
  return inTransaction(db, (tx) => {
    const statements = Promise.all([
      // `minted` counts every share ever created, for the conservation audit.
      tx`INSERT INTO symbols (sym, minted) VALUES (${sym}, ${amount})
         ON CONFLICT (sym) DO UPDATE SET minted = symbols.minted + excluded.minted`.execute(),
      tx`SELECT exchange_require(count(*) = 1, 'account_missing')
         FROM (SELECT id FROM accounts WHERE id = ${accountId} FOR UPDATE) AS locked`.execute(),
      tx`INSERT INTO positions (account_id, sym, shares) VALUES (${accountId}, ${sym}, ${amount})
         ON CONFLICT (account_id, sym) DO UPDATE SET shares = positions.shares + excluded.shares`
        .execute(),
    ]);
    return Promise.resolve({
      deferred: statements.then(
        () => done(undefined),
        (error) => {
          if (requirementFailure(error) === "account_missing") {
            return refused("Account does not exist");
          }
          throw error;
        },
      ),
    });
  });
}

/**
 * Creates `sym` with no shares, for a `<symbol>` element that lists no accounts.
 * Round trips: 2.
 */
export function declareSymbol(db: Database, sym: string): Promise<Outcome<void>> {
  return inTransaction(db, (tx) =>
    Promise.resolve({
      deferred: tx`INSERT INTO symbols (sym) VALUES (${sym}) ON CONFLICT (sym) DO NOTHING`.execute()
        .then(() => done(undefined)),
    }));
}
