/**
 * Every transaction states the isolation level it relies on (READ COMMITTED: the book is read
 * after the book lock is granted, and must see what the lock's previous holder committed), so
 * a PostgreSQL whose default is `serializable` or `repeatable read` changes nothing.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { auditDatabase } from "../../src/db/audit.ts";
import { type Database, makeDatabase } from "../../src/db/database.ts";
import { done, inTransaction } from "../../src/db/transaction.ts";
import { verifyStress } from "../support/stress/verify.ts";
import { runStress } from "../support/stress/workload.ts";
import {
  freshDatabase,
  startTestServer,
  testCluster,
  testDatabaseConfig,
} from "../support/harness.ts";

/** A fresh exchange database whose sessions default to `isolation`. */
async function databaseDefaulting(isolation: string): Promise<Database> {
  const setup = await freshDatabase();
  const [{ name }] = await setup.sql`SELECT current_database() AS name` as unknown as [
    { name: string },
  ];
  await setup.sql.unsafe(
    `ALTER DATABASE "${name}" SET default_transaction_isolation = '${isolation}'`,
  );
  await setup.close();
  const { pg } = await testCluster();
  const config = testDatabaseConfig();
  return makeDatabase(pg.target(name), config, "isolation", `test database ${name}`, undefined);
}

for (const isolation of ["serializable", "repeatable read"]) {
  Deno.test(`inTransaction runs READ COMMITTED where the default is ${isolation}`, async () => {
    const db = await databaseDefaulting(isolation);
    try {
      const [session] = await db.sql`SHOW default_transaction_isolation`;
      strictEqual(session!.default_transaction_isolation, isolation);
      const inside = await inTransaction(db, async (tx) => {
        const [row] = await tx`SELECT current_setting('transaction_isolation') AS level`;
        return done(row!.level as string);
      });
      deepStrictEqual(inside, { ok: true, value: "read committed" });
    } finally {
      await db.close();
    }
  });
}

Deno.test("concurrent load on a database defaulting to serializable keeps the audit clean", async () => {
  const db = await databaseDefaulting("serializable");
  const server = await startTestServer({ db });
  try {
    const seed = Number(Deno.env.get("STRESS_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    const result = await runStress({
      port: server.port,
      durationMs: 3_000,
      binaryClients: 12,
      pipelineDepth: 4,
      textClients: 8,
      symbols: 2,
      accounts: 8,
      seed,
      requestsMax: 1_000_000,
    });
    deepStrictEqual(result.problems, [], `clients saw problems (seed ${seed})`);
    deepStrictEqual((await auditDatabase(db.sql)).violations, [], `seed ${seed}`);
    deepStrictEqual(await verifyStress(result, { port: server.port, sql: db.sql }), []);
  } finally {
    await server.close();
  }
});
