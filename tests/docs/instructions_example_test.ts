/**
 * The worked example of order instructions in docs/PROTOCOL.md (time in force, self-trade
 * prevention, a retried ref), replayed against a real server on a fresh exchange
 * (tests/support/worked_example.ts): every answer, balance and position as the document says.
 */
import { replayWorkedExample } from "../support/worked_example.ts";

Deno.test("docs/PROTOCOL.md: the worked example of order instructions, every answer, balance and position", async () => {
  await replayWorkedExample({
    setupSection: "instructions-example-setup",
    stepsSection: "instructions-example",
    accounts: ["1", "2", "3"],
  });
});
