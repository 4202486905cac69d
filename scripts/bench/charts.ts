/** SVG charts with error bars: vega-lite specs compiled and rendered headless by vega. */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { spread } from "./latency_stats.ts";
import type { RunResults } from "./results.ts";
import { targetCores } from "./targets.ts";

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

/** Writes the charts into `outDir`; returns their file names. */
export async function writeCharts(r: RunResults, outDir: string): Promise<string[]> {
  const files: Array<[string, TopLevelSpec]> = [];
  const mix = r.points.filter((p) => p.workload === "mix");

  // Throughput against clients: our framings beside pgbench on the same database.
  const throughput: Row[] = [];
  for (const [, ps] of group(mix, (p) => `${p.cores}|${p.framing}|${p.clients}`)) {
    const p = ps[0]!;
    throughput.push(
      row(ps.map((q) => q.opsPerS), {
        cores: p.cores,
        clients: p.clients,
        series: `exchange ${p.framing} (ops/s)`,
      }),
    );
  }
  for (const [, ps] of group(r.pgbench, (p) => `${p.cores}|${p.mode}|${p.clients}`)) {
    const p = ps[0]!;
    const series = p.mode === "tpcb" ? "pgbench TPC-B (tps)" : "pgbench select-only (tps)";
    throughput.push(row(ps.map((q) => q.tps), { cores: p.cores, clients: p.clients, series }));
  }
  if (throughput.length > 0) {
    files.push([
      "throughput.svg",
      linesSpec(
        throughput,
        "Throughput vs clients (mix; mean, min-max of repetitions)",
        "per second (log)",
        true,
      ),
    ]);
  }

  // Latency percentiles against clients.
  const latency: Row[] = [];
  for (const [, ps] of group(mix, (p) => `${p.cores}|${p.framing}|${p.clients}`)) {
    const p = ps[0]!;
    for (const pct of ["p50", "p99"] as const) {
      latency.push(
        row(ps.map((q) => q.latency[pct]), {
          cores: p.cores,
          clients: p.clients,
          series: p.framing,
          percentile: pct,
        }),
      );
    }
  }
  if (latency.length > 0) {
    files.push([
      "latency.svg",
      linesSpec(latency, "Request latency vs clients (mix)", "ms (log)", true, "percentile"),
    ]);
  }

  // The classic graph: throughput against CPU cores at the target client count.
  const c = r.options.targetClients;
  const byCores: Row[] = [];
  for (
    const [, ps] of group(mix.filter((p) => p.clients === c), (p) => `${p.cores}|${p.framing}`)
  ) {
    byCores.push(
      row(ps.map((q) => q.opsPerS), {
        cores: ps[0]!.cores,
        series: `exchange ${ps[0]!.framing} (ops/s)`,
      }),
    );
  }
  for (
    const [, ps] of group(
      r.pgbench.filter((p) => p.clients === c && p.mode === "tpcb"),
      (p) => p.cores,
    )
  ) {
    byCores.push(row(ps.map((q) => q.tps), { cores: ps[0]!.cores, series: "pgbench TPC-B (tps)" }));
  }
  if (byCores.length > 0) {
    const color = {
      field: "series",
      type: "nominal" as const,
      title: null,
      legend: { labelLimit: 400 },
    };
    files.push(["cores.svg", {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `Throughput vs server cores (${c} clients, mix)`,
      data: { values: byCores },
      width: 320,
      height: 240,
      encoding: {
        x: { field: "cores", type: "nominal", title: "server cores" },
        xOffset: { field: "series" },
        color,
      },
      layer: [
        {
          mark: "bar",
          encoding: { y: { field: "mean", type: "quantitative", title: "per second" } },
        },
        {
          mark: { type: "errorbar", ticks: true, color: "black" },
          encoding: {
            y: { field: "min", type: "quantitative", title: "per second" },
            y2: { field: "max" },
          },
        },
      ],
    } as TopLevelSpec]);
  }

  // Where the CPU goes: server, PostgreSQL and the load generator, per framing and client count.
  const cores = targetCores(r);
  const cpu: Row[] = [];
  for (
    const [, ps] of group(
      mix.filter((p) => p.cores === cores && p.serverCpuPct !== undefined),
      (p) => `${p.framing}|${p.clients}`,
    )
  ) {
    const p = ps[0]!;
    cpu.push(
      row(ps.map((q) => q.serverCpuPct ?? 0), {
        framing: p.framing,
        clients: p.clients,
        process: "1 server (deno)",
      }),
    );
    cpu.push(
      row(ps.map((q) => q.postgresCpuPct ?? 0), {
        framing: p.framing,
        clients: p.clients,
        process: "2 PostgreSQL",
      }),
    );
    cpu.push(
      row(ps.map((q) => q.clientCpuPct), {
        framing: p.framing,
        clients: p.clients,
        process: "3 bench client",
      }),
    );
  }
  if (cpu.length > 0) {
    files.push(["cpu.svg", {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `CPU use by process (mix, cores ${cores}; 100% = one core)`,
      data: { values: cpu },
      facet: { column: { field: "framing", type: "nominal" } },
      spec: {
        width: 220,
        height: 200,
        encoding: {
          x: { field: "clients", type: "ordinal", title: "clients" },
          xOffset: { field: "process" },
          color: { field: "process", type: "nominal", title: null },
        },
        layer: [
          { mark: "bar", encoding: { y: { field: "mean", type: "quantitative", title: "CPU %" } } },
          {
            mark: { type: "errorbar", ticks: true, color: "black" },
            encoding: {
              y: { field: "min", type: "quantitative", title: "CPU %" },
              y2: { field: "max" },
            },
          },
        ],
      },
    } as TopLevelSpec]);
  }

  const written: string[] = [];
  for (const [name, spec] of files) {
    await Deno.writeTextFile(`${outDir}/${name}`, await renderSvg(spec));
    written.push(name);
  }
  return written;
}
