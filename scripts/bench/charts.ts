/** SVG charts with error bars: vega-lite specs compiled and rendered headless by vega. */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { spread } from "./latency_stats.ts";
import { onOwnAccounts } from "./plan.ts";
import type { PointRecord, RunResults } from "./results.ts";
import { targetCores, workloadRate } from "./targets.ts";

/** One plotted mean with its range over repetitions. */
interface Row {
  [key: string]: string | number;
  mean: number;
  min: number;
  max: number;
}

/** Renders a vega-lite spec to SVG. `renderer: "none"` needs no canvas (none exists in Deno). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function group<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

function row(values: number[], fields: Record<string, string | number>): Row {
  const s = spread(values);
  return { ...fields, mean: s.mean, min: s.min, max: s.max };
}

/** A line per series against client count, with min-max error bars, one panel per core setting. */
function linesSpec(
  rows: Row[],
  title: string,
  yTitle: string,
  logY: boolean,
  dash?: string,
): TopLevelSpec {
  const x = {
    field: "clients",
    type: "quantitative" as const,
    scale: { type: "log" as const, base: 2 },
    title: "clients",
  };
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    legend: { labelLimit: 400 },
  };
  const y = {
    field: "mean",
    type: "quantitative" as const,
    title: yTitle,
    ...(logY ? { scale: { type: "log" as const } } : {}),
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: rows },
    facet: { column: { field: "cores", type: "nominal", title: "server cores" } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: { type: "line", point: true },
          encoding: {
            x,
            y,
            color,
            ...(dash === undefined
              ? {}
              : { strokeDash: { field: dash, type: "nominal", title: null } }),
          },
        },
        {
          mark: { type: "errorbar", ticks: true },
          encoding: {
            x,
            y: {
              field: "min",
              type: "quantitative",
              title: yTitle,
              ...(logY ? { scale: { type: "log" } } : {}),
            },
            y2: { field: "max" },
            color,
          },
        },
      ],
    },
  } as TopLevelSpec;
}

/** Bars with min-max error bars: one group per `x`, one bar per series. */
function barsSpec(rows: Row[], title: string, xField: string, yTitle: string): TopLevelSpec {
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    legend: { labelLimit: 400 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: rows },
    width: 360,
    height: 240,
    encoding: {
      x: { field: xField, type: "nominal", title: null },
      xOffset: { field: "series" },
      color,
    },
    layer: [
      {
        mark: "bar",
        encoding: { y: { field: "mean", type: "quantitative", title: yTitle } },
      },
      {
        mark: { type: "errorbar", ticks: true, color: "black" },
        encoding: {
          y: { field: "min", type: "quantitative", title: yTitle },
          y2: { field: "max" },
        },
      },
    ],
  } as TopLevelSpec;
}

const symbolsLabel = (n: number) => `${n} symbol${n === 1 ? "" : "s"}`;

/** Writes the charts into `outDir`; returns their file names. */
export async function writeCharts(r: RunResults, outDir: string): Promise<string[]> {
  const files: Array<[string, TopLevelSpec]> = [];
  const o = r.options;
  // The sweep: orders, one request in flight, each client count on 1 and on `symbols` symbols.
  const sweep = r.points.filter((p) =>
    onOwnAccounts(p) && p.workload === "orders" && p.depth === 1 && o.clients.includes(p.clients) &&
    o.framings.includes(p.framing) && (p.symbols === 1 || p.symbols === o.symbols)
  );
  const sweepGroups = group(sweep, (p) => `${p.cores}|${p.framing}|${p.symbols}|${p.clients}`);
  const tpcbSweep = r.pgbench.filter((p) => p.mode === "tpcb" && o.clients.includes(p.clients));
  const tpcbGroups = group(tpcbSweep, (p) => `${p.cores}|${p.clients}`);

  // Throughput against clients, on one book and spread over several, beside pgbench TPC-B.
  const throughput: Row[] = [];
  for (const [, ps] of sweepGroups) {
    const p = ps[0]!;
    throughput.push(
      row(ps.map((q) => q.ordersPerS), {
        cores: p.cores,
        clients: p.clients,
        series: `exchange ${p.framing}, ${symbolsLabel(p.symbols)} (orders/s)`,
      }),
    );
  }
  for (const [, ps] of tpcbGroups) {
    const p = ps[0]!;
    throughput.push(
      row(ps.map((q) => q.tps), {
        cores: p.cores,
        clients: p.clients,
        series: "pgbench TPC-B (tps)",
      }),
    );
  }
  if (throughput.length > 0) {
    files.push([
      "throughput.svg",
      linesSpec(
        throughput,
        "Order throughput vs clients, 1 request in flight (mean, min-max of repetitions)",
        "per second (log)",
        true,
      ),
    ]);
  }

  // Latency percentiles of the same points.
  const latency: Row[] = [];
  for (const [, ps] of sweepGroups) {
    const p = ps[0]!;
    for (const pct of ["p50", "p99"] as const) {
      latency.push(
        row(ps.map((q) => q.latency[pct]), {
          cores: p.cores,
          clients: p.clients,
          series: `${p.framing}, ${symbolsLabel(p.symbols)}`,
          percentile: pct,
        }),
      );
    }
  }
  if (latency.length > 0) {
    files.push([
      "latency.svg",
      linesSpec(latency, "Order latency vs clients", "ms (log)", true, "percentile"),
    ]);
  }

  // How batches grow with load: operations per order-engine transaction.
  const batches: Row[] = [];
  for (const [, ps] of sweepGroups) {
    const p = ps[0]!;
    if (ps.every((q) => q.batchMean !== undefined)) {
      batches.push(
        row(ps.map((q) => q.batchMean ?? 0), {
          cores: p.cores,
          clients: p.clients,
          series: `${p.framing}, ${symbolsLabel(p.symbols)}`,
        }),
      );
    }
  }
  if (batches.length > 0) {
    files.push([
      "batch_size.svg",
      linesSpec(batches, "Mean batch size vs clients (operations per transaction)", "ops", false),
    ]);
  }

  // Where the CPU of an order goes, beside PostgreSQL's CPU per TPC-B transaction.
  const cpu: Row[] = [];
  for (const [, ps] of sweepGroups) {
    const p = ps[0]!;
    for (
      const [process, pick] of [
        ["server", (q: PointRecord) => q.serverCpuMsPerOrder],
        ["PostgreSQL", (q: PointRecord) => q.postgresCpuMsPerOrder],
      ] as const
    ) {
      if (ps.every((q) => pick(q) !== undefined)) {
        cpu.push(
          row(ps.map((q) => pick(q) ?? 0), {
            cores: p.cores,
            clients: p.clients,
            series: `${process} per order (${p.framing}, ${symbolsLabel(p.symbols)})`,
          }),
        );
      }
    }
  }
  for (const [, ps] of tpcbGroups) {
    const p = ps[0]!;
    if (ps.every((q) => q.postgresCpuMsPerTx !== undefined)) {
      cpu.push(
        row(ps.map((q) => q.postgresCpuMsPerTx ?? 0), {
          cores: p.cores,
          clients: p.clients,
          series: "PostgreSQL per pgbench TPC-B transaction",
        }),
      );
    }
  }
  if (cpu.length > 0) {
    files.push([
      "cpu_per_order.svg",
      linesSpec(cpu, "CPU per order vs clients (1 request in flight)", "CPU ms (log)", true),
    ]);
  }

  // Framings and depths at the target client count, per workload.
  const cores = targetCores(r);
  const c = o.targetClients;
  const framings: Row[] = [];
  for (
    const [, ps] of group(
      r.points.filter((p) =>
        onOwnAccounts(p) && p.cores === cores && p.clients === c && p.symbols === o.symbols
      ),
      (p) => `${p.workload}|${p.framing}|${p.depth}`,
    )
  ) {
    const p = ps[0]!;
    framings.push(
      row(ps.map(workloadRate), {
        workload: p.workload,
        series: p.framing === "text" ? "text" : `binary, ${p.depth} in flight`,
      }),
    );
  }
  if (framings.length > 0) {
    const color = {
      field: "series",
      type: "nominal" as const,
      title: null,
      legend: { labelLimit: 400 },
    };
    // One panel per workload, each with its own scale: queries run ten times faster than orders.
    files.push(["framings.svg", {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `Text vs binary at ${c} clients, ${symbolsLabel(o.symbols)} (cores ${cores})`,
      data: { values: framings },
      facet: { column: { field: "workload", type: "nominal", title: null } },
      resolve: { scale: { y: "independent" } },
      spec: {
        width: 160,
        height: 220,
        encoding: {
          x: { field: "series", type: "nominal", title: null, axis: { labels: false } },
          color,
        },
        layer: [
          {
            mark: "bar",
            encoding: {
              y: { field: "mean", type: "quantitative", title: "orders/s, queries/s, mix ops/s" },
            },
          },
          {
            mark: { type: "errorbar", ticks: true, color: "black" },
            encoding: {
              y: { field: "min", type: "quantitative", title: "orders/s, queries/s, mix ops/s" },
              y2: { field: "max" },
            },
          },
        ],
      },
    } as TopLevelSpec]);
  }

  // Throughput against CPU cores at the target client count, when more than one was measured.
  if (o.cores.length > 1) {
    const byCores: Row[] = [];
    for (
      const [, ps] of group(
        sweep.filter((p) => p.clients === c && p.symbols === o.symbols),
        (p) => `${p.cores}|${p.framing}`,
      )
    ) {
      byCores.push(
        row(ps.map((q) => q.ordersPerS), {
          cores: ps[0]!.cores,
          series: `exchange ${ps[0]!.framing}, ${symbolsLabel(o.symbols)} (orders/s)`,
        }),
      );
    }
    for (
      const [, ps] of group(
        r.pgbench.filter((p) => p.clients === c && p.mode === "tpcb"),
        (p) => p.cores,
      )
    ) {
      byCores.push(
        row(ps.map((q) => q.tps), { cores: ps[0]!.cores, series: "pgbench TPC-B (tps)" }),
      );
    }
    if (byCores.length > 0) {
      files.push([
        "cores.svg",
        barsSpec(byCores, `Order throughput vs server cores (${c} clients)`, "cores", "per second"),
      ]);
    }
  }

  const written: string[] = [];
  for (const [name, spec] of files) {
    await Deno.writeTextFile(`${outDir}/${name}`, await renderSvg(spec));
    written.push(name);
  }
  return written;
}
