/**
 * The long form of tests/stress_test.ts: starts the real server (`main.ts`) as a subprocess on a
 * fresh embedded database in a temporary directory, runs many concurrent clients against it,
 * audits live snapshots while they run, then checks the final state through the database and
 * the protocol. Prints a summary and the audit report; exits 1 on any problem.
 *
 *   deno task stress [--duration-ms 60000] [--clients 64] [--symbols 3] [--accounts 12]
 *                    [--pipeline-depth 4] [--seed N] [--workers 1] [--keep-data]
 *
 * Half of `--clients` are binary connections pipelining `--pipeline-depth` requests each; the
 * other half are text-framing loops opening a connection per request.
 */
import { parseArgs } from "node:util";
import { auditDatabase, type Violation } from "../src/db/audit.ts";
import { openDatabase } from "../src/db/database.ts";
import { buildConfig } from "../src/config.ts";
import { formatAuditReport } from "./audit.ts";
import { freePort, startServer } from "./bench/server_process.ts";
import { percentile } from "../tests/support/percentile.ts";
import { verifyStress } from "../tests/support/stress/verify.ts";
import { wholeNumberFlag } from "./support/whole_number_flag.ts";
import { runStress } from "../tests/support/stress/workload.ts";

const AUDIT_INTERVAL_MS = 5_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "duration-ms": { type: "string" },
      clients: { type: "string" },
      symbols: { type: "string" },
      accounts: { type: "string" },
      "pipeline-depth": { type: "string" },
      seed: { type: "string" },
      workers: { type: "string" },
      "keep-data": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(
      "Usage: deno task stress [--duration-ms 60000] [--clients 64] [--symbols 3] [--accounts 12]\n" +
        "                        [--pipeline-depth 4] [--seed N] [--workers 1] [--keep-data]",
    );
    return 0;
  }
  const durationMs = wholeNumberFlag(values["duration-ms"], "duration-ms", 60_000, 100, 3_600_000);
  const clients = wholeNumberFlag(values.clients, "clients", 64, 2, 900);
  const symbols = wholeNumberFlag(values.symbols, "symbols", 3, 1, 1000);
  const accounts = wholeNumberFlag(values.accounts, "accounts", 12, 1, 10_000);
  const pipelineDepth = wholeNumberFlag(values["pipeline-depth"], "pipeline-depth", 4, 1, 64);
  const seed = wholeNumberFlag(
    values.seed,
    "seed",
    Math.floor(Math.random() * 2 ** 31),
    0,
    2 ** 32 - 1,
  );
  const workers = wholeNumberFlag(values.workers, "workers", 1, 1, 64);

  const dataDir = await Deno.makeTempDir({ prefix: "exchange-stress-" });
  const port = freePort();
  console.error(`starting the server on 127.0.0.1:${port} with its database in ${dataDir}`);
  const server = await startServer({
    port,
    database: { serverArgs: ["--data-dir", dataDir], dataDir },
    cpuList: undefined,
    extraArgs: ["--workers", String(workers)],
  });
  // The server owns the cluster; this process adopts it for audits and leaves it running.
  const db = await openDatabase({ ...buildConfig(new Map(), 2).database, dataDir, poolSize: 2 }, {
    applicationName: "exchange-stress",
  });
  let failed = false;
  try {
    const liveViolations: Violation[] = [];
    let liveAudits = 0;
    let running = true;
    const auditing = (async () => {
      for (let i = 0; i < 10_000 && running; i++) {
        await new Promise((resolve) => setTimeout(resolve, AUDIT_INTERVAL_MS));
        if (running) {
          liveViolations.push(...(await auditDatabase(db.sql)).violations);
          liveAudits++;
        }
      }
    })();
    console.error(
      `running ${clients} clients for ${durationMs} ms on ${symbols} symbols, ${accounts} accounts, seed ${seed}`,
    );
    const binaryClients = Math.ceil(clients / 2);
    const result = await runStress({
      port,
      durationMs,
      binaryClients,
      textClients: clients - binaryClients,
      pipelineDepth,
      symbols,
      accounts,
      seed,
      requestsMax: 100_000_000,
      // Orders with the instructions of issue 20 too, as in the short form (tests/stress_test.ts).
      instructions: true,
    }).finally(() => {
      running = false;
    });
    await auditing;
    const seconds = result.elapsedMs / 1000;
    console.log(
      `Stress run (seed ${seed}): ${result.requests} requests in ${seconds.toFixed(1)} s ` +
        `= ${(result.requests / seconds).toFixed(0)} requests/s; latency p50 ` +
        `${percentile(result.latenciesMs, 50).toFixed(1)} ms, p99 ${
          percentile(result.latenciesMs, 99).toFixed(1)
        } ms`,
    );
    console.log(
      `  operations ${
        JSON.stringify(result.operations)
      }; ${result.acknowledged.size} orders opened, ` +
        `${result.canceled.size} canceled; refusals ${
          JSON.stringify(Object.fromEntries(result.refusals))
        }`,
    );
    console.log(`  ${liveAudits} audits while running: ${liveViolations.length} violations`);
    for (const v of liveViolations.slice(0, 20)) {
      console.log(`    ${v.check}: ${v.subject}: ${v.detail}`);
    }
    console.log(`  client-side problems: ${result.problems.length}`);
    for (const problem of result.problems.slice(0, 20)) {
      console.log(`    ${problem}`);
    }
    const verification = await verifyStress(result, { port, sql: db.sql });
    console.log(
      `  acknowledged orders checked in the database and by <query>: ${verification.length} problems`,
    );
    for (const problem of verification.slice(0, 20)) {
      console.log(`    ${problem}`);
    }
    const report = await auditDatabase(db.sql);
    console.log(formatAuditReport(report, db.description));
    failed = liveViolations.length > 0 || result.problems.length > 0 || verification.length > 0 ||
      report.violations.length > 0;
    console.log(failed ? "STRESS FAILED" : "STRESS PASSED");
  } finally {
    await db.close({ stopEmbedded: false });
    await server.stop();
    if (values["keep-data"] === true) {
      console.error(`data kept in ${dataDir}`);
    } else {
      await Deno.remove(dataDir, { recursive: true });
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
