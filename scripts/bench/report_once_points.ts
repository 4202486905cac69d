/** The report's sections for the points measured once per run: the steady point, the deep book. */
import type { LatencyWindow } from "./deep_book.ts";
import { PGBENCH_PROTOCOL } from "./pgbench.ts";
import { markdownTable } from "./markdown_table.ts";
import type { RunResults } from "./results.ts";

const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}`;
const ratio = (x: number | undefined) => x === undefined ? "-" : f2(x);

/** The steady point's slices beside pgbench's; nothing when it did not run. */
export function renderSteady(r: RunResults): string[] {
  const s = r.steady;
  if (s === undefined) {
    return [];
  }
  const p = s.point;
  const out: string[] = ["## Steady point", ""];
  out.push(
    `Orders, binary, 1 request in flight, ${p.clients} clients on ${p.symbols} symbols for ` +
      `${seconds(r.options.steadyMs)} s (cores ${p.cores}), on a freshly reset exchange; ` +
      `orders/s in each ${seconds(s.sliceMs)} s slice. ` +
      (s.pgbench === undefined
        ? "pgbench did not run beside it."
        : `Then pgbench TPC-B (\`-M ${PGBENCH_PROTOCOL}\`, warmed up like every pgbench run) ` +
          `with ${s.pgbench.clients} clients for ${s.pgbench.seconds} s on the same PostgreSQL, ` +
          "tps in the same slices (`-P`)."),
    "",
  );
  const rows = s.slices.map((slice, i) => {
    const tps = s.pgbench?.slices[i];
    // The nominal bounds: the last slice also holds answers to requests sent before the end
    // (its measured end, and so its rate's divisor, is in results.json).
    const end = Math.min(slice.startMs + s.sliceMs, r.options.steadyMs);
    return [
      `${seconds(slice.startMs)}-${seconds(end)} s`,
      f0(slice.ordersPerS),
      f2(slice.p50Ms),
      f2(slice.p99Ms),
      tps === undefined ? "-" : f0(tps),
      tps === undefined || tps === 0 ? "-" : f2(slice.ordersPerS / tps),
    ];
  });
  rows.push([
    "**last / first**",
    `**${ratio(s.lastOverFirst)}**`,
    "",
    "",
    `**${ratio(s.pgbench?.lastOverFirst)}**`,
    "",
  ]);
  out.push(
    markdownTable(
      ["slice", "orders/s", "p50 ms", "p99 ms", "pgbench TPC-B tps", "orders/s / tps"],
      rows,
    ),
    "",
  );
  const cpu = (ms: number | undefined) => ms === undefined ? "-" : f2(ms);
  out.push(
    `Whole point: ${f0(p.ordersPerS)} orders/s, p99 ${f2(p.latency.p99)} ms, max ${
      f0(p.latency.max)
    } ms, ${p.errors} errors; batch ${p.batchMean?.toFixed(1) ?? "-"}; CPU ms/order ${
      cpu(p.serverCpuMsPerOrder)
    } server, ${cpu(p.postgresCpuMsPerOrder)} PostgreSQL.`,
    "",
  );
  return out;
}

function windowText(w: LatencyWindow): string {
  return w.count === 0
    ? "no orders"
    : `${f2(w.p50Ms)} / ${f2(w.p99Ms)} / ${f2(w.maxMs)} ms (${w.count} orders)`;
}

/** The deep-book point; nothing when it did not run. */
export function renderDeepBook(r: RunResults): string[] {
  const d = r.deepBook;
  if (d === undefined) {
    return [];
  }
  const out: string[] = [`## Deep book: one buy sweeps ${d.restingOrders} resting sells`, ""];
  out.push(
    `One account places ${d.restingOrders} one-share sells at one price on a book of their own ` +
      `(${d.setupBatch} per request, from ${d.setupConnections} connections at once), then a ` +
      "CHECKPOINT; " +
      `${d.otherClients} clients start placing orders on another book (binary, 1 in flight each), ` +
      `and ${d.leadMs} ms later one buy takes the whole book. The other book's orders are split ` +
      "into those answered before the buy was sent and those in flight at any moment while it ran " +
      `(cores ${d.cores}).`,
    "",
  );
  out.push(
    markdownTable(["measure", "value"], [
      [
        "setting up the resting sells",
        `${seconds(Math.round(d.setupMs))} s (${f0(d.setupOrdersPerS)} orders/s)`,
      ],
      [
        "**the sweeping buy's answer**",
        `**${f0(d.sweepMs)} ms** (${d.sweepAnswer}; book swept: ${d.swept ? "yes" : "**no**"})`,
      ],
      ["other book before the sweep: p50 / p99 / max", windowText(d.otherBefore)],
      ["**other book during the sweep: p50 / p99 / max**", `**${windowText(d.otherDuring)}**`],
      [
        "other book's orders during the sweep that waited at least half of it",
        `${d.otherHeld} of ${d.otherDuring.count}`,
      ],
      ["other book's errors", String(d.errors)],
    ]),
    "",
  );
  if (d.errorMessages.length > 0) {
    out.push(...d.errorMessages.map((m) => `- \`${m.replaceAll("`", "'")}\``), "");
  }
  return out;
}
