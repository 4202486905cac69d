/** The Markdown report: provenance, machine, versions, settings, targets, tables, charts. */
import { redactPasswords } from "./bench_database.ts";
import { type Spread, spread } from "./latency_stats.ts";
import { markdownTable } from "./markdown_table.ts";
import type { PointRecord, RunResults } from "./results.ts";
import { onOwnAccounts, pointLabel } from "./plan.ts";
import { PGBENCH_PROTOCOL } from "./pgbench.ts";
import { provenanceLine } from "./provenance.ts";
import { renderDeepBook, renderSteady } from "./report_once_points.ts";
import { benchServerArgs } from "./server_flags.ts";
import { checkTargets, pgbenchTps, targetCores, workloadRate } from "./targets.ts";
import { WARMUP_REQUESTS } from "./workload.ts";

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const mb = (bytes: number) => f0(bytes / 2 ** 20);

/** "mean (min-max)" of a spread. */
function range(s: Spread, digits: (x: number) => string): string {
  return s.n > 1 ? `${digits(s.mean)} (${digits(s.min)}-${digits(s.max)})` : digits(s.mean);
}

function groups(points: PointRecord[]): PointRecord[][] {
  const map = new Map<string, PointRecord[]>();
  for (const p of points) {
    const key = `${p.cores}|${pointLabel(p)}`;
    map.set(key, [...(map.get(key) ?? []), p]);
  }
  return [...map.values()];
}

/** The table of every repeated point; nothing when the run measured none. */
function renderThroughput(r: RunResults): string[] {
  if (r.points.length === 0) {
    return [];
  }
  const out: string[] = [];
  out.push("## Exchange throughput and latency", "");
  out.push(
    "Mean over repetitions, (min-max) when more than one. Ratios use pgbench at the same cores and",
    "clients (orders and mix against TPC-B, queries against select-only). Rate: orders/s, queries/s",
    "or (mix) operations/s.",
    "",
  );
  const rows = groups(r.points).map((ps) => {
    const p = ps[0]!;
    const rate = spread(ps.map(workloadRate));
    const yardstick = p.workload === "queries"
      ? pgbenchTps(r, p.cores, "select", p.clients)
      : pgbenchTps(r, p.cores, "tpcb", p.clients);
    const ratio = yardstick === undefined
      ? "-"
      : `${f2(rate.mean / yardstick)} x ${p.workload === "queries" ? "-S" : "TPC-B"}`;
    const meanOf = (pick: (q: PointRecord) => number | undefined, digits: (x: number) => string) =>
      ps.every((q) => pick(q) !== undefined)
        ? digits(spread(ps.map((q) => pick(q) ?? 0)).mean)
        : "-";
    // Queries have no orders: their CPU is per query.
    const perOp = (cpuSeconds: (q: PointRecord) => number | undefined) => (q: PointRecord) => {
      const seconds = cpuSeconds(q);
      const count = q.workload === "queries" ? q.queries : q.orders;
      return seconds === undefined || count === 0 ? undefined : (1000 * seconds) / count;
    };
    return [
      p.cores,
      p.workload,
      p.framing,
      String(p.depth),
      String(p.clients),
      String(p.symbols),
      onOwnAccounts(p) ? "own" : `${p.sharedAccounts} shared`,
      range(rate, f0),
      ratio,
      range(spread(ps.map((q) => q.latency.p50)), f2),
      range(spread(ps.map((q) => q.latency.p99)), f2),
      f2(Math.max(...ps.map((q) => q.latency.max))),
      String(ps.reduce((s, q) => s + q.errors, 0)),
      String(ps.reduce((s, q) => s + q.refusals, 0)),
      meanOf((q) => q.batchMean, f1),
      `${meanOf(perOp((q) => q.serverCpuSeconds), f2)} / ${
        meanOf(perOp((q) => q.postgresCpuSeconds), f2)
      }`,
      `${meanOf((q) => q.serverCpuPct, f0)} / ${meanOf((q) => q.postgresCpuPct, f0)} / ${
        meanOf((q) => q.clientCpuPct, f0)
      }`,
      ps.every((q) => q.serverRssBytes !== undefined)
        ? mb(Math.max(...ps.map((q) => q.serverRssBytes ?? 0)))
        : "-",
    ];
  });
  out.push(
    markdownTable(
      [
        "cores",
        "workload",
        "framing",
        "in flight",
        "clients",
        "symbols",
        "accounts",
        "rate /s",
        "vs pgbench",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "refusals",
        "batch",
        "CPU ms/order srv / pg",
        "CPU % srv/pg/client",
        "RSS MB",
      ],
      rows,
    ),
    "",
  );
  return out;
}

/** Builds REPORT.md's text. */
export function renderReport(r: RunResults, charts: string[]): string {
  const o = r.options;
  const m = r.machine;
  const out: string[] = [];
  out.push(`# Exchange benchmark report`, "");
  out.push(provenanceLine(r.provenance), "");
  out.push(
    `Run ${r.startedAt} - ${r.finishedAt} (${f0(r.totalSeconds)} s) with \`deno task bench ${
      redactPasswords(Deno.args.join(" "))
    }\`.`,
    "",
  );
  out.push("## Machine and versions", "");
  out.push(
    markdownTable(["", ""], [
      ["CPUs (nproc)", String(m.nproc)],
      ["CPU model", m.cpuModel],
      ["Memory", `${m.memoryTotalMb} MB`],
      [
        "Load average (1, 5, 15 min) at start / end",
        `${r.loadAverage.start?.join(", ") ?? "-"} / ${r.loadAverage.end?.join(", ") ?? "-"}`,
      ],
      ["Kernel", m.kernel],
      ["Deno", `${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`],
      ["PostgreSQL (server)", m.postgres],
      ["PostgreSQL used", r.database?.description ?? "the running server's own"],
      ["pgbench", m.pgbench],
      ["Server", `\`${r.serverBanner}\``],
    ]),
    "",
  );
  out.push("## Settings", "");
  out.push(
    markdownTable(["setting", "value"], [
      [
        "duration per point",
        `${o.durationMs} ms (pgbench: ${Math.max(1, Math.ceil(o.durationMs / 1000))} s)`,
      ],
      [
        "sweep",
        `orders, ${o.framings.join(" and ")}, 1 request in flight, ${
          o.clients.join(", ")
        } clients, on 1 and on ${o.symbols} symbols`,
      ],
      [
        "target points",
        `orders, queries and mix at ${o.targetClients} clients on ${o.symbols} symbols: text, ` +
        `binary 1 in flight, binary ${o.pipelineDepth} in flight; hot book: ${o.hotClients} ` +
        "clients on 1 symbol (binary, 1 in flight)",
      ],
      ["parts measured (--points)", o.points.join(", ")],
      ["repetitions", String(o.repetitions)],
      [
        "server cores",
        o.cores.map((c) =>
          `${c.label}${c.cpuList === undefined ? "" : ` (taskset -c ${c.cpuList})`}`
        ).join(", "),
      ],
      [
        "shared-accounts point",
        `orders, binary, 1 in flight, ${o.targetClients} clients on ${o.symbols} symbols, each ` +
        `request on one of ${o.sharedAccounts} accounts picked at random`,
      ],
      [
        "pgbench",
        r.pgbenchScale === undefined
          ? "not run"
          : `\`-M ${PGBENCH_PROTOCOL}\` (prepared statements, as the server's driver uses), ` +
            `scale ${r.pgbenchScale} (init ${f1(r.pgbenchInitSeconds ?? 0)} s), -n, ` +
            `-j = min(clients, nproc), same PostgreSQL as the server; before each measured ` +
            `run an unmeasured warm-up of ${WARMUP_REQUESTS} transactions per client (\`-t\`), ` +
            `as the exchange's clients send ${WARMUP_REQUESTS} orders each before their clock starts`,
      ],
      ["extra server flags", benchServerArgs(o).join(" ") || "none"],
      [
        "between points",
        r.options.external === undefined
          ? "CHECKPOINT before every point, ours and pgbench's alike"
          : "nothing (external server)",
      ],
    ]),
    "",
  );
  out.push(
    "Workload `mix`: each client trades on its own account (ample cash and shares, so no funds",
    "refusals), 60% orders (half passive around a mid price of 100, half aggressive at 112/88, so",
    "about half cross), 30% queries and 10% cancels of its own recent orders; one request in ten",
    "holds three operations. `orders` and `queries` are single-kind workloads (orders: half",
    "passive, half crossing). Text framing opens a TCP connection per request; binary keeps one per",
    "client with `x1` (one) or `x" + String(o.pipelineDepth) +
      "` requests in flight. CPU % is percent of",
    "one core over the point (server process; PostgreSQL postmaster and all backends; the bench",
    "client itself); CPU ms per order divides the CPU of the server and of PostgreSQL over the point",
    "by the orders completed (mix: including its queries' and cancels' CPU; queries: per query).",
    "Batch: operations (orders and cancels) per order-engine transaction, from the server's",
    "`exchange_order_batch_size` histogram scraped before and after each point. Server and",
    "PostgreSQL are pinned together (PostgreSQL inherits the server's affinity); the bench client",
    "and pgbench are not. Shared accounts: the clients trade on a few accounts between them, so",
    "their orders meet on the same balances and positions (accounts column).",
    "",
  );

  out.push("## Targets (issue 19)", "");
  out.push(
    `Checked at cores ${targetCores(r) ?? "-"}, means over repetitions (the text p99: its worst ` +
      "repetition); every ratio is against pgbench in this same run, on the same PostgreSQL, at " +
      "the same client count. The steady and deep-book targets read those points, measured once " +
      "per run; the steady one is judged only on an external PostgreSQL (`--database-url`), as " +
      'issue 19 asks. Targets marked "kept from issue 10" are issue 10\'s that issue 19 did not ' +
      "replace. n/a: not measured in this run.",
    "",
  );
  out.push(
    markdownTable(
      ["target", "goal", "measured", "result"],
      checkTargets(r).map((
        t,
      ) => [t.name, t.goal, t.measured, t.pass === undefined ? "n/a" : t.pass ? "PASS" : "FAIL"]),
    ),
    "",
  );
  out.push(...r.notes.map((n) => `- ${n}`), r.notes.length > 0 ? "" : "");

  out.push(...renderThroughput(r));

  if (r.pgbench.length > 0) {
    out.push("## pgbench on the same PostgreSQL", "");
    const map = new Map<string, typeof r.pgbench>();
    for (const p of r.pgbench) {
      const key = `${p.cores}|${p.mode}|${p.clients}`;
      map.set(key, [...(map.get(key) ?? []), p]);
    }
    out.push(
      markdownTable(
        [
          "cores",
          "script",
          "clients",
          "tps",
          "latency avg ms",
          "failed",
          "PostgreSQL CPU %",
          "PostgreSQL CPU ms/tx",
        ],
        [...map.values()].map((ps) => {
          const p = ps[0]!;
          return [
            p.cores,
            `${p.mode === "tpcb" ? "TPC-B (default)" : "select-only (-S)"}, -M ${p.protocol}`,
            String(p.clients),
            range(spread(ps.map((q) => q.tps)), f0),
            range(spread(ps.map((q) => q.latencyAvgMs)), f2),
            String(ps.reduce((s, q) => s + q.failed, 0)),
            ps.every((q) => q.postgresCpuPct !== undefined)
              ? f0(spread(ps.map((q) => q.postgresCpuPct ?? 0)).mean)
              : "-",
            ps.every((q) => q.postgresCpuMsPerTx !== undefined)
              ? f2(spread(ps.map((q) => q.postgresCpuMsPerTx ?? 0)).mean)
              : "-",
          ];
        }),
      ),
      "",
    );
  }

  if (r.idle !== undefined) {
    const i = r.idle;
    out.push("## Memory with idle connections", "");
    out.push(
      `${i.held} of ${i.requested} binary connections open and idle (each sent one \`<create>\` first; ${i.errors} errors):`,
      `server RSS ${mb(i.rssBeforeBytes)} MB before, **${mb(i.rssIdleBytes)} MB** while held, ${
        mb(i.rssAfterBytes)
      } MB after closing them.`,
      "",
    );
  }

  out.push(...renderSteady(r), ...renderDeepBook(r));

  const messages = [...new Set(r.points.flatMap((p) => p.errorMessages))].slice(0, 10);
  if (messages.length > 0) {
    out.push(
      "## First error messages",
      "",
      ...messages.map((msg) => `- \`${msg.replaceAll("`", "'")}\``),
      "",
    );
  }

  if (charts.length > 0) {
    out.push("## Charts", "", ...charts.map((c) => `![${c}](${c})`), "");
  }
  out.push("Raw numbers of every repetition: `results.json`.", "");
  return out.join("\n");
}
