-- Each order row records the transaction that placed it, so that a batch whose COMMIT went
-- unanswered (the connection broke with COMMIT in flight) can be resolved exactly: PostgreSQL's
-- pg_xact_status(xid) says whether that transaction committed, and these rows say which ids it
-- drew (src/db/book_batch.ts, recoverIds). Eight bytes per order, no index: the lookup is an id
-- range scan from the sequence position read under the book locks.
--
-- Added without a default first, so that existing rows are not rewritten (they stay NULL: no
-- COMMIT of theirs can still be in doubt); the default applies to rows inserted from now on,
-- including every INSERT of exchange_apply_batch, which names the columns it sets.
ALTER TABLE orders ADD COLUMN created_xact xid8;
ALTER TABLE orders ALTER COLUMN created_xact SET DEFAULT pg_current_xact_id();
