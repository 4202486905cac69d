/** What one kind's run measured and concluded: the report's input. */
import type { CheckResult, DoubtResolution } from "./checks.ts";
import type { LedgerCounts } from "./ledger.ts";

/** One kind's run against one target. */
export interface KindResult {
  kind: string;
  target: string;
  /** Wall time of the whole kind: set-up, load, checks. */
  wallMs: number;
  faultsInjected: number;
  counts: LedgerCounts;
  doubts: DoubtResolution;
  maxLatencyMs: number;
  /** Time to the first served order after each fault ended (undefined: none within 15 s). */
  recoveriesMs: Array<number | undefined>;
  checks: CheckResult[];
  /** Lines of the server's stderr worth reading (Uncaught and its stack, warnings, counts). */
  serverNotes: string[];
  /** Why the kind did not run at all (a missing module, a set-up failure), if so. */
  skipped?: string;
  /** Extra measurements a kind prints (failover: kill to first served order). */
  extra: string[];
}

/** True if every check passed and the kind ran. */
export function passed(result: KindResult): boolean {
  return result.skipped === undefined && result.checks.every((check) => check.ok);
}

/** The server's stderr lines worth a reader's time, and how many slow requests it logged. */
export function serverNotes(stderr: string): string[] {
  const lines = stderr.split("\n");
  const notes: string[] = [];
  const slow = lines.filter((line) => line.includes("slow request")).length;
  if (slow > 0) {
    notes.push(`${slow} "slow request" lines`);
  }
  const warnings = lines.filter((line) => line.includes("Warning")).length;
  if (warnings > 0) {
    notes.push(
      `${warnings} lines with "Warning" (first: ${
        lines.find((l) => l.includes("Warning"))?.trim()
      })`,
    );
  }
  const uncaught = lines.findIndex((line) => line.includes("Uncaught"));
  if (uncaught >= 0) {
    notes.push(...lines.slice(uncaught, uncaught + 4).map((line) => `stderr: ${line}`));
  }
  return notes;
}
