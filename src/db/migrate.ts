/**
 * Applies the numbered SQL files of `migrations/` in order, each once, each in its own
 * transaction, and records them in `schema_migrations`. A transaction-scoped advisory lock
 * makes concurrent starts (several worker processes) apply each migration exactly once.
 */
import type { Database } from "./database.ts";
import { SCHEMA } from "./database.ts";
import { MIGRATION_FILES } from "./migration_files.ts";
import { done, inTransaction } from "./transaction.ts";

/** Arbitrary constant naming the advisory lock that serializes schema changes. */
const MIGRATION_LOCK_KEY = 7_346_221;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The bundled `migrations/NNN_name.sql`, sorted by number. */
export function readMigrations(): Migration[] {
  const migrations: Migration[] = [];
  for (const [file, sql] of MIGRATION_FILES) {
    const match = /^([0-9]+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (match === null) {
      throw new TypeError(`Migration file name must be NNN_name.sql, got ${file}`);
    }
    migrations.push({ version: Number(match[1]), name: match[2]!, sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  return migrations;
}

/** Brings the schema up to date; with `reset`, drops all exchange data first. Returns versions applied. */
export async function migrate(db: Database, options: { reset: boolean }): Promise<number[]> {
  await inTransaction(db, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    if (options.reset) {
      await tx.unsafe(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    }
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await tx.unsafe(`
      CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    return done(undefined);
  });
  const applied: number[] = [];
  for (const migration of readMigrations()) {
    const outcome = await inTransaction(db, async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      const found = await tx.unsafe(
        `SELECT 1 FROM ${SCHEMA}.schema_migrations WHERE version = $1`,
        [migration.version],
      );
      if (found.length > 0) {
        return done(false);
      }
      await tx.unsafe(`SET LOCAL search_path TO ${SCHEMA}`);
      await tx.unsafe(migration.sql);
      await tx.unsafe(
        `INSERT INTO ${SCHEMA}.schema_migrations (version, name) VALUES ($1, $2)`,
        [migration.version, migration.name],
      );
      return done(true);
    });
    if (outcome.ok && outcome.value) {
      applied.push(migration.version);
    }
  }
  return applied;
}
