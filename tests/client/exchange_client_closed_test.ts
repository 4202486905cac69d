import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import { BinaryClient } from "../../src/client/exchange_client.ts";
import { parseAnswer } from "../../src/client/parse_answer.ts";
import { startTestServer } from "../support/harness.ts";

Deno.test("BinaryClient fails waiting and later requests once the server closes", async () => {
  const server = await startTestServer({ limits: { frameBytesMax: 64 } });
  const client = await BinaryClient.connect(server.port);
  try {
    // An oversize frame is answered with an error, then the server closes the connection.
    const answer = await client.request(`<create>${"<x/>".repeat(20)}</create>`);
    deepStrictEqual(parseAnswer(answer).map((e) => e.name), ["error"]);
    const waiting = client.nextAnswer();
    await client.closed();
    await rejects(waiting, /Connection closed by the server/);
    await rejects(client.request("<create/>"), /Connection closed by the server/);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("parseAnswer reads children in order and refuses a document that is not <results>", () => {
  deepStrictEqual(
    parseAnswer(`<results><created id=" 5"/><error id="6">No <b>x</b></error></results>`),
    [
      { name: "created", attributes: { id: " 5" }, text: "", children: [] },
      {
        name: "error",
        attributes: { id: "6" },
        text: "No",
        children: [{ name: "b", attributes: {}, text: "x", children: [] }],
      },
    ],
  );
  throws(() => parseAnswer("<error>Malformed XML</error>"), /Not a <results> document/);
  throws(() => parseAnswer("<results>"), Error);
});
