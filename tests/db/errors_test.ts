/** Which database failures mean "cannot serve now": answered Service unavailable. */
import { deepStrictEqual, ok } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { makeDatabase, openPool } from "../../src/db/database.ts";
import { isTimeout, isUnavailable } from "../../src/db/errors.ts";
import { SERVICE_UNAVAILABLE } from "../../src/server/exchange_service.ts";
import {
  freshDatabase,
  startTestServer,
  testCluster,
  testDatabaseConfig,
} from "../support/harness.ts";
import { results } from "../support/xml.ts";

Deno.test("isUnavailable: connection trouble, too many connections, a server that cannot serve now", () => {
  const unavailable = ["53300", "53400", "53100", "53200", "57P01", "57P03", "08006", "25006"];
  const other = ["23505", "40001", "40P01", "57014", "55P03", "42P01", "EX001"];
  deepStrictEqual(unavailable.filter((code) => !isUnavailable({ code })), []);
  deepStrictEqual(other.filter((code) => isUnavailable({ code })), []);
  ok(isUnavailable({ code: "ACQUIRE_TIMEOUT" }));
  ok(isTimeout({ code: "55P03" }) && isTimeout({ code: "57014" }));
});

Deno.test("a PostgreSQL refusing connections with 53300 (too many connections) is answered unavailable", async () => {
  const setup = await freshDatabase();
  const [{ name }] = await setup.sql`SELECT current_database() AS name` as unknown as [
    { name: string },
  ];
  // A role allowed no connections at all: PostgreSQL refuses it with SQLSTATE 53300.
  const role = `limited_${Deno.pid}`;
  await setup.sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
  await setup.sql.unsafe(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
  await setup.close();
  const { pg } = await testCluster();
  const config = testDatabaseConfig();
  const sql = openPool(
    { ...pg.target(name), user: role },
    config,
    "limited",
  );
  const error = await sql`SELECT 1`.then(() => undefined, (e) => e);
  deepStrictEqual(error?.code, "53300", String(error));
  await sql.end();
  const server = await startTestServer({
    db: makeDatabase({ ...pg.target(name), user: role }, config, "limited", "limited", undefined),
  });
  try {
    const answer = results(
      await sendText(server.port, `<create><account id="1" balance="1"/></create>`),
    );
    deepStrictEqual(answer.map((e) => [e.name, e.text]), [["error", SERVICE_UNAVAILABLE]]);
  } finally {
    await server.close();
  }
});
