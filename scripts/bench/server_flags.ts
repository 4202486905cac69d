/** The flags the bench adds to the server it starts, for the report to state them. */
import type { BenchOptions } from "./options.ts";

/**
 * Flags the bench gives the server it starts, before the operator's `--server-args` (which win).
 * With the deep book, its timeouts are raised, as `--idle-timeout-ms` is for the idle
 * connections: a sweep of 60,000 took 13.6 s on this machine under other load, and at the
 * default 10 s it was answered "Outcome unknown" instead of being measured. They only matter
 * when something takes that long, so the other points run as they would at the defaults.
 */
export function benchServerArgs(options: BenchOptions): string[] {
  if (!options.points.includes("deep-book") || options.sweepTimeoutMs === 0) {
    return options.serverArgs;
  }
  const ms = String(options.sweepTimeoutMs);
  return [
    "--operation-timeout-ms",
    ms,
    "--statement-timeout-ms",
    ms,
    "--lock-timeout-ms",
    ms,
    "--idle-in-transaction-timeout-ms",
    ms,
    ...options.serverArgs,
  ];
}
