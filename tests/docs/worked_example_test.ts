/**
 * The worked example of docs/PROTOCOL.md, replayed against a real server on a fresh exchange
 * (tests/support/worked_example.ts): every answer, balance and position as the document says.
 */
import { replayWorkedExample } from "../support/worked_example.ts";

Deno.test("docs/PROTOCOL.md: the worked example, every answer, balance and position", async () => {
  await replayWorkedExample({
    setupSection: "worked-example-setup",
    stepsSection: "worked-example",
    accounts: ["100", "200", "300"],
  });
});
