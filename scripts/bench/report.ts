/** The Markdown report: machine, versions, settings, targets, tables, charts. */
import { type Spread, spread } from "./latency_stats.ts";
import type { PointRecord, RunResults } from "./results.ts";
import { checkTargets, pgbenchTps } from "./targets.ts";

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const mb = (bytes: number) => f0(bytes / 2 ** 20);

/** "mean (min-max)" of a spread. */
function range(s: Spread, digits: (x: number) => string): string {
  return s.n > 1 ? `${digits(s.mean)} (${digits(s.min)}-${digits(s.max)})` : digits(s.mean);
}

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function groups(points: PointRecord[]): PointRecord[][] {
  const map = new Map<string, PointRecord[]>();
  for (const p of points) {
    const key = `${p.cores}|${p.workload}|${p.framing}|${p.clients}`;
    map.set(key, [...(map.get(key) ?? []), p]);
  }
  return [...map.values()];
}

/** Builds REPORT.md's text. */
export function renderReport(r: RunResults, charts: string[]): string {
  const o = r.options;
  const m = r.machine;
  const out: string[] = [];
  out.push(`# Exchange benchmark report`, "");
  out.push(
    `Run ${r.startedAt} - ${r.finishedAt} (${f0(r.totalSeconds)} s) with \`deno task bench ${
      Deno.args.join(" ")
    }\`.`,
    "",
  );
  out.push("## Machine and versions", "");
  out.push(
    table(["", ""], [
      ["CPUs (nproc)", String(m.nproc)],
      ["CPU model", m.cpuModel],
      ["Memory", `${m.memoryTotalMb} MB`],
      ["Kernel", m.kernel],
      ["Deno", `${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`],
      ["PostgreSQL (server)", m.postgres],
      ["pgbench", m.pgbench],
      ["Server", `\`${r.serverBanner}\``],
    ]),
    "",
  );
  out.push("## Settings", "");
  out.push(
    table(["setting", "value"], [
      [
        "duration per point",
        `${o.durationMs} ms (pgbench: ${Math.max(1, Math.ceil(o.durationMs / 1000))} s)`,
      ],
      ["clients", o.clients.join(", ")],
      ["repetitions", String(o.repetitions)],
      ["symbols", String(o.symbols)],
      ["framings", o.framings.join(", ")],
      [
        "server cores",
        o.cores.map((c) =>
          `${c.label}${c.cpuList === undefined ? "" : ` (taskset -c ${c.cpuList})`}`
        ).join(", "),
      ],
      ["binary pipeline depth", `${o.pipelineDepth} requests in flight per connection`],
      ["target checks at", `${o.targetClients} clients`],
      [
        "pgbench",
        r.pgbenchScale === undefined
          ? "not run"
          : `scale ${r.pgbenchScale} (init ${
            f1(r.pgbenchInitSeconds ?? 0)
          } s), -n, -j = min(clients, nproc), same PostgreSQL as the server`,
      ],
      ["extra server flags", o.serverArgs.join(" ") || "none"],
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
    "holds three operations. `orders` and `queries` are single-kind workloads for the targets.",
    "Text framing opens a TCP connection per request; binary keeps one per client with",
    `${o.pipelineDepth} requests in flight. CPU is percent of one core over the point (server process;`,
    "PostgreSQL postmaster and all backends; the bench client itself). Server and PostgreSQL are",
    "pinned together (PostgreSQL inherits the server's affinity); the bench client and pgbench are not.",
    "",
  );

  out.push("## Targets (issue 6)", "");
  out.push(
    table(
      ["target", "goal", "measured", "result"],
      checkTargets(r).map((
        t,
      ) => [t.name, t.goal, t.measured, t.pass === undefined ? "n/a" : t.pass ? "PASS" : "FAIL"]),
    ),
    "",
  );
  out.push(...r.notes.map((n) => `- ${n}`), r.notes.length > 0 ? "" : "");

  out.push("## Exchange throughput and latency", "");
  out.push(
    "Mean over repetitions, (min-max) when more than one. Ratios use pgbench at the same cores and clients.",
    "",
  );
  const rows = groups(r.points).map((ps) => {
    const p = ps[0]!;
    const ops = spread(ps.map((q) => q.opsPerS));
    const tpcb = pgbenchTps(r, p.cores, "tpcb", p.clients);
    const select = pgbenchTps(r, p.cores, "select", p.clients);
    const perKind = p.workload === "queries"
      ? spread(ps.map((q) => q.queriesPerS))
      : spread(ps.map((q) => q.ordersPerS));
    const ratio = p.workload === "queries"
      ? (select === undefined ? "-" : `${f2(perKind.mean / select)} x -S`)
      : (tpcb === undefined
        ? "-"
        : `${f2((p.workload === "orders" ? perKind.mean : ops.mean) / tpcb)} x TPC-B`);
    const cpu = (pick: (q: PointRecord) => number | undefined) =>
      ps.every((q) => pick(q) !== undefined) ? f0(spread(ps.map((q) => pick(q) ?? 0)).mean) : "-";
    return [
      p.cores,
      p.workload,
      p.framing,
      String(p.clients),
      range(spread(ps.map((q) => q.requestsPerS)), f0),
      range(ops, f0),
      ratio,
      range(spread(ps.map((q) => q.latency.p50)), f2),
      range(spread(ps.map((q) => q.latency.p90)), f2),
      range(spread(ps.map((q) => q.latency.p99)), f2),
      f2(Math.max(...ps.map((q) => q.latency.max))),
      String(ps.reduce((s, q) => s + q.errors, 0)),
      String(ps.reduce((s, q) => s + q.refusals, 0)),
      `${cpu((q) => q.serverCpuPct)} / ${cpu((q) => q.postgresCpuPct)} / ${
        cpu((q) => q.clientCpuPct)
      }`,
      ps.every((q) => q.serverRssBytes !== undefined)
        ? mb(Math.max(...ps.map((q) => q.serverRssBytes ?? 0)))
        : "-",
    ];
  });
  out.push(
    table(
      [
        "cores",
        "workload",
        "framing",
        "clients",
        "req/s",
        "ops/s",
        "vs pgbench",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "refusals",
        "CPU % srv/pg/client",
        "RSS MB",
      ],
      rows,
    ),
    "",
  );

  if (r.pgbench.length > 0) {
    out.push("## pgbench on the same PostgreSQL", "");
    const map = new Map<string, typeof r.pgbench>();
    for (const p of r.pgbench) {
      const key = `${p.cores}|${p.mode}|${p.clients}`;
      map.set(key, [...(map.get(key) ?? []), p]);
    }
    out.push(
      table(
        ["cores", "script", "clients", "tps", "latency avg ms", "failed", "PostgreSQL CPU %"],
        [...map.values()].map((ps) => {
          const p = ps[0]!;
          return [
            p.cores,
            p.mode === "tpcb" ? "TPC-B (default)" : "select-only (-S)",
            String(p.clients),
            range(spread(ps.map((q) => q.tps)), f0),
            range(spread(ps.map((q) => q.latencyAvgMs)), f2),
            String(ps.reduce((s, q) => s + q.failed, 0)),
            ps.every((q) => q.postgresCpuPct !== undefined)
              ? f0(spread(ps.map((q) => q.postgresCpuPct ?? 0)).mean)
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
