/**
 * Checks the exchange's invariants in a database the server uses, prints a report, and exits
 * 1 if any is violated (2 if the audit could not run).
 *
 *   deno task audit [--data-dir .data] [--database-url URL]
 *
 * Takes the same database options as `serve`. With the embedded database it starts the cluster
 * when it is not running and stops it again at the end; a cluster that was already running (a
 * server is using it) is left running. The audit reads one snapshot and writes nothing, so it is
 * safe against a live server: every operation commits atomically, so the invariants hold in any
 * snapshot.
 */
import { buildConfig, ConfigError, readOptions } from "../src/config.ts";
import { optionsHelp } from "../src/options_text.ts";
import { AUDIT_CHECKS, type AuditCheck, auditDatabase, type AuditReport } from "../src/db/audit.ts";
import { clusterInitialized, locateCluster } from "../src/db/cluster_location.ts";
import { openDatabase } from "../src/db/database.ts";

/** What each check guards, for the report. */
const CHECK_TITLES: Record<AuditCheck, string> = {
  shares_not_conserved: "per symbol: minted = positions + open sells",
  cash_not_conserved: "cash: deposited = balances + open buy reservations",
  negative_value: "nothing negative",
  execution_wrong_orders: "executions pair a buy and a sell of one symbol",
  execution_price_outside_limits: "sell limit <= execution price <= buy limit",
  execution_price_not_resting_limit: "execution price = the resting order's limit",
  order_shares_mismatch: "per order: executed + open + canceled = |amount|; not open and canceled",
  crossed_book: "no crossed book: best open buy < best open sell",
  immediate_order_resting: "no IOC or FOK order rests",
  self_trade_not_prevented:
    "no trade with its own account where the incoming order's stp forbade it",
};

/** The report as lines of text: totals, one line per check, then the violations found. */
export function formatAuditReport(report: AuditReport, description: string): string {
  const t = report.totals;
  const lines = [
    `Audit of ${description}`,
    `  ${t.accounts} accounts, ${t.symbols} symbols, ${t.orders} orders (${t.openOrders} open), ` +
    `${t.executions} executions`,
    `  cash deposited ${t.deposited}; balances ${t.balances}; reserved by open buys ${t.reservedCash}`,
  ];
  for (const check of AUDIT_CHECKS) {
    const count = report.violationCounts[check];
    const status = count === undefined ? "ok    " : `FAILED ${count}x`;
    lines.push(`  ${status.padEnd(12)} ${check.padEnd(34)} ${CHECK_TITLES[check]}`);
  }
  if (report.violations.length > 0) {
    lines.push("Violations:");
    for (const v of report.violations) {
      lines.push(`  ${v.check}: ${v.subject}: ${v.detail}`);
    }
    const listed = report.violations.length;
    const total = Object.values(report.violationCounts).reduce((sum, n) => sum + (n ?? 0), 0);
    if (total > listed) {
      lines.push(`  (${total - listed} more not listed)`);
    }
    lines.push(`AUDIT FAILED: ${total} violation(s)`);
  } else {
    lines.push("AUDIT PASSED: every invariant holds");
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  let config;
  try {
    const { values } = readOptions(Deno.args, (name) => Deno.env.get(name));
    if (values.get("help") === true) {
      console.log(
        `Usage: deno task audit [options]\n\nOptions (as for serve):\n${optionsHelp()}\n`,
      );
      return 0;
    }
    config = buildConfig(values, navigator.hardwareConcurrency);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      console.error(`audit: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const database = { ...config.database, poolSize: 1 };
  if (database.url === undefined) {
    // Starting the embedded database on an empty directory would create a new, empty cluster.
    if (!await clusterInitialized(locateCluster(database.dataDir))) {
      console.error(`audit: no embedded database in ${database.dataDir} (is --data-dir right?)`);
      return 2;
    }
  }
  const db = await openDatabase(database, {
    applicationName: "exchange-audit",
    log: (line) => console.error(`[audit] ${line}`),
  });
  // Stop the cluster only if this process started it; a server may be using an adopted one.
  const stopEmbedded = db.embedded !== undefined && !db.embedded.adoptedRunningServer;
  try {
    const report = await auditDatabase(db.sql);
    console.log(formatAuditReport(report, db.description));
    return report.violations.length === 0 ? 0 : 1;
  } catch (error) {
    console.error(`audit: ${(error as Error).message}`);
    return 2;
  } finally {
    await db.close({ stopEmbedded });
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
