/**
 * A failure after a batch committed never turns into a rerun: the batch's operations are
 * answered with what committed, once, and the failure is logged and counted. (Before, an
 * observer that threw after COMMIT failed every operation of the batch as if rolled back.)
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { startTestServer } from "../support/harness.ts";
import { results } from "../support/xml.ts";
import { createAccounts, mint } from "./exchange_fixture.ts";

Deno.test("OrderEngine answers a committed batch whose observer throws, and places nothing twice", async () => {
  let failures = 0;
  const server = await startTestServer({
    service: {
      observer: {
        fills: (report) => {
          if (report.fills > 0) {
            throw new Error("planted observer failure");
          }
        },
        failure: () => failures++,
      },
    },
  });
  try {
    await createAccounts(server.port, { "1": "1000", "2": "0" });
    await mint(server.port, "X", { "2": "10" });
    const answers = results(
      await sendText(
        server.port,
        `<transactions id="2"><order sym="X" amount="-4" limit="10"/></transactions>`,
      ),
    ).concat(results(
      await sendText(
        server.port,
        `<transactions id="1"><order sym="X" amount="4" limit="10"/></transactions>`,
      ),
    ));
    // The second order filled: its batch committed, then the observer threw.
    deepStrictEqual(answers.map((e) => [e.name, e.attributes.id]), [["opened", "1"], [
      "opened",
      "2",
    ]]);
    strictEqual(failures, 1);
    ok(server.logs.some((line) => line.includes("planted observer failure")));
    const rows = await server.db.sql`SELECT id::text AS id FROM orders ORDER BY id`;
    deepStrictEqual(rows.map((r) => r.id), ["1", "2"]);
    const [trades] = await server.db.sql`SELECT count(*)::int AS n FROM executions`;
    strictEqual(trades!.n, 1);
  } finally {
    await server.close();
  }
});
