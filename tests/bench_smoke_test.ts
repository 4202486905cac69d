/** End-to-end smoke test of `deno task bench --quick`: report, charts, operations, no errors. */
import { ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { denoRunFlags } from "../src/server/deno_run_flags.ts";

const HANG_GUARD_MS = 600_000;
const BENCH = fileURLToPath(new URL("../scripts/bench.ts", import.meta.url));

Deno.test({
  name: "bench --quick runs end to end and writes a report with charts",
  // The bench starts a server and PostgreSQL as subprocesses and stops them itself.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "bench-smoke-" });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", ...denoRunFlags(), BENCH, "--quick", "--out", out],
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

      const report = await Deno.readTextFile(`${out}/REPORT.md`);
      ok(report.includes("## Targets (issue 10)"), "report lists the targets of issue 10");
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

      const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`)) as {
        points: Array<{
          ops: number;
          orders: number;
          depth: number;
          framing: string;
          errors: number;
          errorMessages: string[];
          batchMean?: number;
          serverCpuMsPerOrder?: number;
          postgresCpuMsPerOrder?: number;
        }>;
      };
      ok(results.points.length > 0, "points were measured");
      for (const point of results.points) {
        ok(point.ops > 0, "the point performed operations");
        ok(point.errors === 0, `no errors, got ${point.errors}: ${point.errorMessages.join("; ")}`);
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
      ok(depths.has(1) && depths.has(4), `binary points at 1 and 4 in flight, got ${[...depths]}`);
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});
