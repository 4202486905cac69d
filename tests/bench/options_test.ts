import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { parseBenchOptions, POINT_GROUPS, UsageError } from "../../scripts/bench/options.ts";

const parse = (...args: string[]) => parseBenchOptions(args, 2)!;

Deno.test("parseBenchOptions leaves the minute-long steady point out of the default run only", () => {
  ok(!parse().points.includes("steady"));
  deepStrictEqual(parse("--quick").points, [...POINT_GROUPS]);
  deepStrictEqual(parse("--points", "all").points, [...POINT_GROUPS]);
  // Listed in the run's order, whatever the order asked.
  deepStrictEqual(parse("--points", "steady,clients").points, ["clients", "steady"]);
  throws(() => parse("--points", "sweep"), UsageError);
  throws(() => parse("--points", ""), UsageError);
});

Deno.test("parseBenchOptions takes a postgres --database-url, not beside a running server", () => {
  const url = "postgres://bench@127.0.0.1:5515/postgres";
  strictEqual(parse("--database-url", url).databaseUrl, url);
  strictEqual(parse().databaseUrl, undefined);
  throws(() => parse("--database-url", "mysql://x@y/z"), UsageError);
  throws(() => parse("--database-url", "not a url"), UsageError);
  throws(() => parse("--database-url", url, "--port", "12345"), UsageError);
});

Deno.test("parseBenchOptions slices the steady point in whole seconds that divide it", () => {
  const o = parse("--steady-ms", "30000", "--steady-slice-ms", "5000");
  strictEqual(o.steadyMs, 30_000);
  strictEqual(o.steadySliceMs, 5_000);
  strictEqual(parse().steadyMs, 60_000);
  strictEqual(parse().steadySliceMs, 10_000);
  throws(() => parse("--steady-ms", "30000", "--steady-slice-ms", "1500"), UsageError);
  throws(() => parse("--steady-ms", "30000", "--steady-slice-ms", "7000"), UsageError);
  throws(() => parse("--steady-ms", "3000", "--steady-slice-ms", "10000"), UsageError);
});

Deno.test("parseBenchOptions bounds the deep book and the shared accounts", () => {
  const d = parse();
  deepStrictEqual(
    [d.sweepOrders, d.sweepSetupBatch, d.sweepSetupConnections, d.sweepOtherClients],
    [60_000, 500, 32, 4],
  );
  strictEqual(d.sweepTimeoutMs, 120_000);
  strictEqual(parse("--sweep-timeout-ms", "0").sweepTimeoutMs, 0);
  strictEqual(parse("--sweep-orders", "1000").sweepOrders, 1000);
  throws(() => parse("--sweep-orders", "0"), UsageError);
  throws(() => parse("--sweep-orders", "1000001"), UsageError);
  throws(() => parse("--sweep-setup-batch", "10001"), UsageError);
  strictEqual(d.sharedAccounts, 4);
  throws(() => parse("--shared-accounts", "0"), UsageError);
});

Deno.test("parseBenchOptions takes an immediate share from 0 to 1", () => {
  strictEqual(parse().immediateShare, 0);
  strictEqual(parse("--immediate-share", "0.25").immediateShare, 0.25);
  strictEqual(parse("--immediate-share", "1").immediateShare, 1);
  throws(() => parse("--immediate-share", "1.5"), UsageError);
  throws(() => parse("--immediate-share", ".5"), UsageError);
  throws(() => parse("--immediate-share=-0.1"), UsageError);
});
