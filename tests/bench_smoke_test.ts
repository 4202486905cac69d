/**
 * End-to-end smoke tests of `deno task bench`: `--quick` (report, charts, every kind of point,
 * no errors), and the steady point on a PostgreSQL reached by `--database-url` (the test
 * cluster's URL stands in for an operator's). Nothing here asserts a rate or a latency.
 */
import { ok, strictEqual } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { openPool } from "../src/db/database.ts";
import { denoRunFlags } from "../src/server/deno_run_flags.ts";
import type { RunResults } from "../scripts/bench/results.ts";
import { testCluster, testDatabaseConfig } from "./support/harness.ts";

const HANG_GUARD_MS = 600_000;
const BENCH = fileURLToPath(new URL("../scripts/bench.ts", import.meta.url));

/** Runs the bench with `args` into a fresh directory; returns its results and report. */
async function runBench(
  args: string[],
  check: (out: string, results: RunResults, report: string) => Promise<void>,
): Promise<void> {
  const out = await Deno.makeTempDir({ prefix: "bench-smoke-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", ...denoRunFlags(), BENCH, ...args, "--out", out],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    // Only a guard against a hang (the run takes well under a minute): not a time limit.
    const timer = setTimeout(() => child.kill("SIGINT"), HANG_GUARD_MS);
    const output = await child.output();
    clearTimeout(timer);
    const log = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    ok(output.code === 0, `bench exited with ${output.code}:\n${log}`);
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`)) as RunResults;
    await check(out, results, await Deno.readTextFile(`${out}/REPORT.md`));
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/** What every run records about itself: the commit, and pgbench's protocol. */
function checkProvenance(results: RunResults, report: string): void {
  ok(/^[0-9a-f]{40}$/.test(results.provenance.commit), `a commit: ${results.provenance.commit}`);
  strictEqual(typeof results.provenance.dirty, "boolean");
  ok(report.includes(`Commit \`${results.provenance.commit}\``), "the report names the commit");
  ok(results.pgbench.every((p) => p.protocol === "prepared"), "pgbench ran -M prepared");
}

/** The steady point's slices, and pgbench's beside them. */
function checkSteady(results: RunResults, report: string): void {
  const steady = results.steady;
  ok(steady !== undefined, "the steady point ran");
  ok(steady.slices.length >= 2, `slices, got ${steady.slices.length}`);
  ok(steady.slices.every((s) => s.orders > 0), "orders in every slice");
  ok(steady.lastOverFirst !== undefined, "last slice over the first");
  strictEqual(steady.point.errors, 0, steady.point.errorMessages.join("; "));
  ok((steady.pgbench?.slices.length ?? 0) >= 1, "pgbench's slices beside them");
  ok(report.includes("## Steady point"), "the report's steady table");
}

Deno.test({
  name: "bench --quick runs end to end and writes a report with charts",
  // The bench starts a server and PostgreSQL as subprocesses and stops them itself.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    // The steady point runs in the --database-url test below (the same code on another
    // cluster); here it would add about seven seconds.
    runBench(
      ["--quick", "--points", "clients,targets,shared-accounts,idle,deep-book"],
      async (out, results, report) => {
        ok(report.includes("## Targets (issue 19)"), "report lists the targets of issue 19");
        for (
          const target of ["One hot book", "Binary pipelined (4 in flight) vs text", "Per point"]
        ) {
          ok(report.includes(target), `report states the target "${target}"`);
        }
        const svgs = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".svg"));
        ok(svgs.length >= 1, "at least one SVG chart");
        for (const svg of svgs) {
          ok(
            (await Deno.readTextFile(`${out}/${svg.name}`)).startsWith("<svg"),
            `${svg.name} is an SVG`,
          );
        }

        ok(results.points.length > 0, "points were measured");
        for (const point of results.points) {
          ok(point.ops > 0, "the point performed operations");
          ok(
            point.errors === 0,
            `no errors, got ${point.errors}: ${point.errorMessages.join("; ")}`,
          );
          if (point.orders > 0) {
            // Scraped from the server's /metrics around the point: at least one order per batch.
            ok((point.batchMean ?? 0) >= 1, `a mean batch size, got ${point.batchMean}`);
            ok((point.serverCpuMsPerOrder ?? 0) > 0, "server CPU per order");
            ok((point.postgresCpuMsPerOrder ?? 0) > 0, "PostgreSQL CPU per order");
          }
        }
        const depths = new Set(
          results.points.filter((p) => p.framing === "binary").map((p) => p.depth),
        );
        ok(
          depths.has(1) && depths.has(4),
          `binary points at 1 and 4 in flight, got ${[...depths]}`,
        );
        ok(results.points.some((p) => p.sharedAccounts > 0), "the shared-accounts point ran");
        ok(report.includes("shared"), "the report shows the shared-accounts point");

        checkProvenance(results, report);

        const deep = results.deepBook;
        ok(deep !== undefined, "the deep-book point ran");
        strictEqual(deep.sweepAnswer, "opened");
        ok(deep.swept, "the buy swept every resting sell");
        strictEqual(deep.restingOrders, results.options.sweepOrders);
        ok(deep.otherDuring.count > 0, "the other book traded while the sweep ran");
        strictEqual(deep.errors, 0, deep.errorMessages.join("; "));
        ok(report.includes("## Deep book"), "the report's deep-book table");
      },
    ),
});

Deno.test({
  name: "bench --database-url runs the steady point on fresh databases of that cluster",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { pg } = await testCluster();
    const target = pg.target("postgres");
    const url = `postgres://postgres@localhost:${target.port}/postgres?host=${target.socketDir}`;
    const databases = async () => {
      const sql = openPool({ kind: "url", url }, testDatabaseConfig({ poolSize: 1 }), "smoke");
      try {
        return (await sql`SELECT datname FROM pg_database`).map((r) => String(r.datname));
      } finally {
        await sql.end();
      }
    };
    const before = await databases();
    await runBench(
      ["--quick", "--points", "steady", "--database-url", url],
      async (_out, results, report) => {
        strictEqual(results.database?.kind, "external");
        ok(results.pgbenchScale !== undefined, "pgbench -i ran on the external cluster");
        checkProvenance(results, report);
        checkSteady(results, report);
        strictEqual(results.points.length, 0, "only the steady point");
        // The bench dropped the two databases it created.
        const after = await databases();
        strictEqual(after.filter((d) => !before.includes(d)).join(", "), "");
      },
    );
  },
});
