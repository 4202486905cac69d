/**
 * The SQL files of `migrations/`, imported as text: part of the module graph, so that a
 * compiled binary carries them and nothing is read from disk at run time.
 *
 * A new migration needs a line here; tests/db/migration_files_test.ts fails until it has one.
 */
import m001 from "../../migrations/001_exchange.sql" with { type: "text" };
import m002 from "../../migrations/002_require.sql" with { type: "text" };
import m003 from "../../migrations/003_apply_order.sql" with { type: "text" };
import m004 from "../../migrations/004_autovacuum.sql" with { type: "text" };
import m005 from "../../migrations/005_apply_batch.sql" with { type: "text" };
import m006 from "../../migrations/006_commit_record.sql" with { type: "text" };
import m007 from "../../migrations/007_executions_checked_once.sql" with { type: "text" };
import m008 from "../../migrations/008_order_instructions.sql" with { type: "text" };

/** File name -> SQL text, for every file of `migrations/`. */
export const MIGRATION_FILES: ReadonlyMap<string, string> = new Map([
  ["001_exchange.sql", m001],
  ["002_require.sql", m002],
  ["003_apply_order.sql", m003],
  ["004_autovacuum.sql", m004],
  ["005_apply_batch.sql", m005],
  ["006_commit_record.sql", m006],
  ["007_executions_checked_once.sql", m007],
  ["008_order_instructions.sql", m008],
]);
