/**
 * PostgreSQL goes away under a running server and comes back: requests during the outage get
 * a clear error without hanging, the server stays up, and it recovers by itself.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { openDatabase } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { SERVICE_UNAVAILABLE } from "../../src/server/exchange_service.ts";
import { startTestServer, TEST_CLUSTER_SETTINGS, testDatabaseConfig } from "../support/harness.ts";
import { describe, results } from "../support/xml.ts";

Deno.test("server answers 'service unavailable' while PostgreSQL is down and recovers when it returns", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-outage-" });
  const db = await openDatabase(testDatabaseConfig({ dataDir, connectTimeoutMs: 1_000 }), {
    applicationName: "outage-test",
    settings: TEST_CLUSTER_SETTINGS,
  });
  await migrate(db, { reset: true });
  const server = await startTestServer({ db });
  const embedded = db.embedded!;
  try {
    const create = (id: string) => `<create><account id="${id}" balance="10"/></create>`;
    deepStrictEqual(results(await sendText(server.port, create("1"))).map(describe), [
      "created{id=1}",
    ]);

    // Account 1 is now known to exist (remembered), so that during the outage its query gets
    // as far as the status reader's statement.
    strictEqual(
      results(
        await sendText(server.port, `<transactions id="1"><query id="9"/></transactions>`),
      )[0]!
        .name,
      "error",
    );

    await embedded.stop("fast");
    const during = results(
      await sendText(
        server.port,
        `<create><account id="2" balance="10"/><account id="3" balance="10"/></create>`,
      ),
    );
    deepStrictEqual(during.map((e) => [e.name, e.attributes.id, e.text]), [
      ["error", "2", SERVICE_UNAVAILABLE],
      ["error", "3", SERVICE_UNAVAILABLE],
    ]);
    const transactions = results(
      await sendText(
        server.port,
        `<transactions id="1"><query id="1"/><order sym="X" amount="1" limit="1"/></transactions>`,
      ),
    );
    deepStrictEqual(transactions.map((e) => e.text), [SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE]);

    await embedded.restart();
    // The pool reconnects on the next query; the first request after the restart succeeds.
    deepStrictEqual(results(await sendText(server.port, create("4"))).map(describe), [
      "created{id=4}",
    ]);
    const rows = await db.sql`SELECT id FROM accounts ORDER BY id`;
    deepStrictEqual(rows.map((r) => r.id), ["1", "4"]);
  } finally {
    await server.close();
    await embedded.stop("immediate");
    await Deno.remove(dataDir, { recursive: true });
  }
});
