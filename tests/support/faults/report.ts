/** The printed account of a fault run: per kind its counts, its measurements, its checks. */
import { type KindResult, passed } from "./kind_result.ts";

const ms = (value: number | undefined) => value === undefined ? "never" : `${Math.round(value)} ms`;

/** The report of one kind, as lines. */
export function formatKind(result: KindResult): string[] {
  const head = `== ${result.kind} on ${result.target} (${(result.wallMs / 1000).toFixed(1)} s): ${
    result.skipped === undefined ? (passed(result) ? "PASSED" : "FAILED") : "SKIPPED"
  }`;
  if (result.skipped !== undefined) {
    return [head, `   ${result.skipped}`];
  }
  const c = result.counts;
  const recoveries = result.recoveriesMs;
  const worst = recoveries.some((r) => r === undefined)
    ? undefined
    : Math.max(0, ...recoveries.map((r) => r ?? 0));
  const lines = [
    head,
    `   faults injected ${result.faultsInjected}; requests ${c.requests}, operations ${c.operations}`,
    `   acknowledged ${c.acknowledged}, refused ${c.refused}, unavailable ${c.unavailable}, ` +
    `timed out ${c.timedOut}, conflicting ${c.conflict}, in doubt ${c.inDoubt} ` +
    `(orders resolved: committed ${result.doubts.committed} / not ${result.doubts.notCommitted}), ` +
    `unanswered ${c.unanswered}, failures ${c.failures}, refused connections ${c.connectFailures}`,
    `   max latency ${ms(result.maxLatencyMs)}; first served order after each fault: ${
      recoveries.map(ms).join(", ") || "-"
    } (worst ${ms(worst)})`,
    ...result.extra.map((line) => `   ${line}`),
  ];
  for (const check of result.checks) {
    lines.push(`   ${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`);
  }
  for (const note of result.serverNotes) {
    lines.push(`   server: ${note}`);
  }
  return lines;
}

/** One line per kind, for the end of a run. */
export function formatSummary(results: readonly KindResult[]): string[] {
  const lines = ["== Summary"];
  for (const result of results) {
    const failed = result.checks.filter((check) => !check.ok).map((check) => check.name);
    const verdict = result.skipped !== undefined
      ? "SKIPPED"
      : failed.length === 0
      ? "PASSED"
      : `FAILED ${failed.map((name) => name.split(" ")[0]).join(",")}`;
    lines.push(`   ${result.kind.padEnd(18)} ${result.target.padEnd(48)} ${verdict}`);
  }
  const ran = results.filter((r) => r.skipped === undefined);
  lines.push(
    `   ${ran.filter(passed).length} of ${ran.length} kinds passed` +
      (ran.length < results.length ? `, ${results.length - ran.length} skipped` : ""),
  );
  return lines;
}
