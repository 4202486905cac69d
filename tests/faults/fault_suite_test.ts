/**
 * The fault suite's short form (the long form is `deno task faults`): the real server process
 * on an embedded PostgreSQL 18 over TCP, 16 trading clients, and each cheap kind of fault for a
 * few seconds, then all of them mixed; every kind's checks must pass. Failover runs only in the
 * long form: it builds a second cluster by base backup, which costs more than this test's budget.
 */
import { type KindName, KINDS } from "../support/faults/kinds.ts";
import { passed } from "../support/faults/kind_result.ts";
import { suiteModules } from "../support/faults/modules.ts";
import { formatKind, formatSummary } from "../support/faults/report.ts";
import { runSuite } from "../support/faults/suite.ts";

/**
 * Load per kind: about 9 s a kind with set-up and checks on a server that passes, under 90 s in
 * all (a failing server makes clients wait out their 15 s). Terminations and resets get longer:
 * today's server died after 5 to 20 terminations, and a short window let it pass now and then.
 */
const DURATION_MS = 5_000;
const CONTINUOUS_DURATION_MS = 8_000;
const SHORT_KINDS: readonly KindName[] = KINDS.filter((kind) => kind !== "failover");

Deno.test("fault suite (short form): the server stays up and every answer stays exact under each fault", async (t) => {
  const results = await runSuite({
    target: "embedded",
    kinds: SHORT_KINDS,
    durationMs: DURATION_MS,
    durationsMs: { terminate: CONTINUOUS_DURATION_MS, reset: CONTINUOUS_DURATION_MS },
    clients: 16,
    seed: 1,
    ...(await suiteModules()),
    log: (line) => console.log(line),
  });
  console.log(formatSummary(results).join("\n"));
  for (const result of results) {
    await t.step(result.kind, () => {
      if (result.skipped === undefined && !passed(result)) {
        throw new Error(formatKind(result).join("\n"));
      }
    });
  }
});
