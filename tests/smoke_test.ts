import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sendText } from "../src/client/exchange_client.ts";
import { startTestServer } from "./support/harness.ts";
import { describe, results } from "./support/xml.ts";

Deno.test("server answers <create> over text framing", async () => {
  const server = await startTestServer();
  try {
    const answer = await sendText(server.port, `<create><account id="1" balance="10"/></create>`);
    assertEquals(results(answer).map(describe), ["created{id=1}"]);
  } finally {
    await server.close();
  }
});
