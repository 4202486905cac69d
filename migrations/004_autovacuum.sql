-- Vacuum the hot tables after a fixed number of dead rows, whatever their size.
--
-- Every fill rewrites the resting order's row (open_shares changes, and it is part of the book
-- indexes' predicate, so the update cannot be HOT), and an order that is filled or canceled
-- leaves a dead entry at the head of its book index, which is exactly where the next book read
-- starts. With the default thresholds (20% of the table) those entries piled up and PostgreSQL's
-- CPU per order climbed from 1.6 to 2.5 ms within 7000 orders of a fresh exchange; vacuuming
-- after a thousand dead rows kept it flat at 1.3-1.5 ms (16 text clients, 4 symbols, 3 s runs).
-- Accounts, positions and symbols are small and updated by every order: the same rule keeps
-- them small.
ALTER TABLE orders SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 1000,
  -- Inserts too, so the visibility map stays current and vacuums stay short.
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 10000
);
ALTER TABLE executions SET (
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 10000
);
ALTER TABLE accounts SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
ALTER TABLE positions SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
ALTER TABLE symbols SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
