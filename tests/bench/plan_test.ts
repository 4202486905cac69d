import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseBenchOptions } from "../../scripts/bench/options.ts";
import {
  largestClientCount,
  planRepetition,
  type PlanStep,
  pointKey,
  type PointSpec,
} from "../../scripts/bench/plan.ts";

const defaults = parseBenchOptions([], 2)!;
const own = { sharedAccounts: 0 };

function exchangePoints(steps: PlanStep[]): PointSpec[] {
  return steps.flatMap((s) => s.kind === "exchange" ? [s.point] : []);
}

function has(steps: PlanStep[], p: PointSpec): boolean {
  return exchangePoints(steps).some((q) => pointKey(q) === pointKey(p));
}

Deno.test("planRepetition measures every point the targets of issues 19 and 10 need", () => {
  const steps = planRepetition(defaults, true);
  for (const workload of ["orders", "queries", "mix"] as const) {
    for (const [framing, depth] of [["text", 1], ["binary", 1], ["binary", 4]] as const) {
      ok(has(steps, { workload, framing, depth, clients: 16, symbols: 4, ...own }), workload);
    }
  }
  ok(
    has(steps, {
      workload: "orders",
      framing: "binary",
      depth: 1,
      clients: 64,
      symbols: 1,
      ...own,
    }),
  );
  for (const clients of [1, 4, 16, 64]) {
    for (const symbols of [1, 4]) {
      ok(has(steps, { workload: "orders", framing: "binary", depth: 1, clients, symbols, ...own }));
    }
  }
  const pgbench = steps.flatMap((s) => s.kind === "pgbench" ? [`${s.mode}${s.clients}`] : []);
  deepStrictEqual(pgbench, ["tpcb1", "tpcb4", "tpcb16", "select16", "tpcb64"]);
});

Deno.test("planRepetition measures each point once, pgbench right after its client count", () => {
  const steps = planRepetition(defaults, true);
  const keys = exchangePoints(steps).map(pointKey);
  strictEqual(new Set(keys).size, keys.length);
  // Client counts never go back down, and pgbench closes each client count's group.
  let clients = 0;
  let closed = false;
  for (const step of steps) {
    const c = step.kind === "exchange" ? step.point.clients : step.clients;
    ok(c >= clients, "client counts ascend");
    if (c > clients) {
      closed = false;
    }
    if (step.kind === "pgbench") {
      closed = true;
    } else {
      ok(!closed, `an exchange point after pgbench at ${c} clients`);
    }
    clients = c;
  }
});

Deno.test("planRepetition on a setting other than the target's runs the sweep only", () => {
  const steps = planRepetition(defaults, false);
  const points = exchangePoints(steps);
  strictEqual(points.length, 8);
  ok(points.every((p) => p.workload === "orders" && p.framing === "binary" && p.depth === 1));
  ok(steps.every((s) => s.kind === "exchange" || s.mode === "tpcb"));
});

Deno.test("planRepetition sweeps both framings when asked, text always one in flight", () => {
  const o = parseBenchOptions(["--framing", "text,binary", "--clients", "8"], 2)!;
  const points = exchangePoints(planRepetition(o, false));
  deepStrictEqual(
    points.map(pointKey),
    [
      "orders|text|1|8|1|0",
      "orders|binary|1|8|1|0",
      "orders|text|1|8|4|0",
      "orders|binary|1|8|4|0",
    ],
  );
});

Deno.test("largestClientCount covers the sweep, the target and the hot book", () => {
  strictEqual(largestClientCount(defaults), 64);
  strictEqual(
    largestClientCount(parseBenchOptions(["--clients", "2", "--hot-clients", "100"], 2)!),
    100,
  );
});

Deno.test("planRepetition adds the shared-accounts point at the target clients, beside TPC-B", () => {
  const steps = planRepetition(defaults, true);
  const shared = exchangePoints(steps).filter((p) => p.sharedAccounts > 0);
  deepStrictEqual(shared, [{
    workload: "orders",
    framing: "binary",
    depth: 1,
    clients: 16,
    symbols: 4,
    sharedAccounts: 4,
  }]);
  const o = parseBenchOptions(["--points", "shared-accounts", "--shared-accounts", "2"], 2)!;
  const only = planRepetition(o, true);
  deepStrictEqual(exchangePoints(only).map(pointKey), ["orders|binary|1|16|4|2"]);
  deepStrictEqual(only.filter((s) => s.kind === "pgbench"), [
    { kind: "pgbench", mode: "tpcb", clients: 16 },
  ]);
});

Deno.test("planRepetition measures only the parts --points names", () => {
  const o = parseBenchOptions(["--points", "steady,deep-book"], 2)!;
  deepStrictEqual(planRepetition(o, true), []);
  const targets = parseBenchOptions(["--points", "targets"], 2)!;
  ok(exchangePoints(planRepetition(targets, true)).every((p) => p.clients !== 1));
  deepStrictEqual(planRepetition(targets, false), []);
});
