/**
 * The checks after a kind's run, each one able to fail on its own: what the clients were told
 * is compared with what the database holds (found by each order's unique tag), the exchange's
 * invariants are audited, and the server's own account of itself (exit, metrics, stderr) is read.
 * Run at a quiet moment: the load has stopped and the server has been shut down.
 */
import postgres from "postgres";
import { auditDatabase } from "../../../src/db/audit.ts";
import { NOTHING_HAPPENED } from "./answer_class.ts";
import type { Ledger } from "./ledger.ts";

/** Check 2 and 8's bounds. */
export const RECOVERY_MS_MAX = 5_000;
export const LATENCY_MS_MAX = 12_000;
/** Examples listed per failed check. */
const EXAMPLES_MAX = 3;

/** One check's verdict. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the run measured outside the database. */
export interface RunObservations {
  /** Set if the server exited before the suite stopped it. */
  exitedEarly: Deno.CommandStatus | undefined;
  /** Time to the first served order after each fault ended; undefined where none came. */
  recoveriesMs: Array<number | undefined>;
  unhandledErrors: number | string;
  stderr: string;
}

/** In-doubt answers, resolved against the database. */
export interface DoubtResolution {
  committed: number;
  notCommitted: number;
}

/** The checks' verdicts and the in-doubt resolution for the report. */
export interface CheckOutcome {
  results: CheckResult[];
  doubts: DoubtResolution;
}

/** A connection for the checks to the server's database, directly (not through the proxy). */
export function checksConnection(url: string): postgres.Sql {
  return postgres(url, {
    max: 1,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "fault-checks", search_path: "exchange" },
  });
}

/**
 * Runs every check; `sql` reaches the server's database with the exchange schema on its search
 * path, and is ended by the caller.
 */
export async function runChecks(
  sql: postgres.Sql,
  ledger: Ledger,
  observed: RunObservations,
): Promise<CheckOutcome> {
  const results: CheckResult[] = [];
  results.push(processCheck(observed));
  results.push(recoveryCheck(observed));
  let doubts: DoubtResolution = { committed: 0, notCommitted: 0 };
  try {
    const found = await findOrders(sql, ledger);
    results.push(...orderChecks(ledger, found.matches, found.total));
    results.push(await cancelCheck(sql, ledger));
    const report = await auditDatabase(sql);
    const violations = report.violations.slice(0, EXAMPLES_MAX)
      .map((v) => `${v.check} ${v.subject}: ${v.detail}`);
    results.push({
      name: "6 cash and shares exact (auditDatabase)",
      ok: report.violations.length === 0,
      detail: report.violations.length === 0
        ? `${report.totals.orders} orders, ${report.totals.executions} executions`
        : violations.join("; "),
    });
    doubts = resolveDoubts(ledger, found.matches);
    results.push({
      name: "7 in-doubt answers resolved",
      ok: doubts.committed + doubts.notCommitted === inDoubtOrders(ledger).length,
      detail: `${doubts.committed} committed, ${doubts.notCommitted} not`,
    });
  } catch (error) {
    results.push({
      name: "3-7 database checks",
      ok: false,
      detail: `could not read the database: ${(error as Error).message}`,
    });
  }
  results.push({
    name: "8 no answer later than 12 s",
    ok: ledger.maxLatencyMs <= LATENCY_MS_MAX,
    detail: `max latency ${Math.round(ledger.maxLatencyMs)} ms`,
  });
  results.push(unhandledCheck(observed));
  results.push({
    name: "10 every request answered in the server's vocabulary",
    ok: ledger.counts.unanswered === 0 && ledger.counts.failures === 0,
    detail: `${ledger.counts.unanswered} unanswered, ${ledger.counts.failures} failure answers` +
      (ledger.failureTexts.length === 0 ? "" : `; first: ${ledger.failureTexts[0]}`),
  });
  return { results, doubts };
}

function processCheck(observed: RunObservations): CheckResult {
  const exit = observed.exitedEarly;
  return {
    name: "1 server process never exited",
    ok: exit === undefined,
    detail: exit === undefined
      ? "alive until stopped"
      : `exited with code ${exit.code}${exit.signal === null ? "" : ` (${exit.signal})`}`,
  };
}

function recoveryCheck(observed: RunObservations): CheckResult {
  const measured = observed.recoveriesMs.filter((ms): ms is number => ms !== undefined);
  const missing = observed.recoveriesMs.length - measured.length;
  const worst = measured.length === 0 ? undefined : Math.max(...measured);
  const ok = observed.recoveriesMs.length > 0 && missing === 0 &&
    (worst ?? 0) <= RECOVERY_MS_MAX;
  return {
    name: "2 fresh order served within 5 s of each fault's end",
    ok,
    detail: `${observed.recoveriesMs.length} fault ends; worst ${
      worst === undefined ? "-" : `${Math.round(worst)} ms`
    }; never served: ${missing}`,
  };
}

function unhandledCheck(observed: RunObservations): CheckResult {
  const uncaught = observed.stderr.split("\n").find((line) => line.includes("Uncaught"));
  const metric = observed.unhandledErrors;
  const metricOk = metric === 0;
  return {
    name: "9 no unhandled errors (metric, stderr)",
    ok: metricOk && uncaught === undefined,
    detail: `exchange_unhandled_errors_total ${metric}` +
      (uncaught === undefined ? "; no Uncaught in stderr" : `; stderr: ${uncaught.trim()}`),
  };
}

/** Per ledger order (by index): how many database rows carry its tag, and the first one's id. */
async function findOrders(
  sql: postgres.Sql,
  ledger: Ledger,
): Promise<{ matches: Array<{ rows: number; id: string | null }>; total: number }> {
  const orders = ledger.orders;
  const rows = await sql`
    SELECT e.i::int AS i, count(o.id)::int AS rows, min(o.id)::text AS id
    FROM unnest(${orders.map((o) => o.account)}::text[], ${orders.map((o) => o.sym)}::text[],
                ${orders.map((o) => o.amount)}::numeric[], ${orders.map((o) => o.limit)}::numeric[])
         WITH ORDINALITY AS e(account_id, sym, amount, limit_price, i)
    LEFT JOIN orders AS o ON o.account_id = e.account_id AND o.sym = e.sym
      AND o.amount = e.amount AND o.limit_price = e.limit_price
    GROUP BY e.i`;
  const matches = orders.map(() => ({ rows: 0, id: null as string | null }));
  for (const row of rows) {
    matches[row.i - 1] = { rows: row.rows, id: row.id };
  }
  const [count] = await sql`SELECT count(*)::int AS total FROM orders`;
  return { matches, total: count!.total };
}

/** Checks 3, 4 and 5 from the tag matches. */
function orderChecks(
  ledger: Ledger,
  matches: Array<{ rows: number; id: string | null }>,
  total: number,
): CheckResult[] {
  const missing: string[] = [];
  const happened: string[] = [];
  const twice: string[] = [];
  let matchedRows = 0;
  ledger.orders.forEach((order, i) => {
    const match = matches[i]!;
    matchedRows += match.rows;
    const what = `${order.account} ${order.sym} ${order.amount} @ ${order.limit}`;
    if (match.rows > 1) {
      twice.push(`${what} x${match.rows}`);
    }
    if (order.answer === "acknowledged" && (match.rows !== 1 || match.id !== order.id)) {
      missing.push(`${what} id ${order.id}: database has ${match.rows} row(s), id ${match.id}`);
    }
    if (NOTHING_HAPPENED.has(order.answer) && match.rows > 0) {
      happened.push(`${what} answered "${order.text}" but exists as id ${match.id}`);
    }
  });
  const phantoms = total - matchedRows;
  const acknowledged = ledger.orders.filter((o) => o.answer === "acknowledged").length;
  const failed = ledger.orders.filter((o) => NOTHING_HAPPENED.has(o.answer)).length;
  return [
    {
      name: "3 every acknowledged order present, exactly",
      ok: missing.length === 0,
      detail: `${acknowledged} acknowledged, ${missing.length} missing or different` +
        examples(missing),
    },
    {
      name: "4 no order answered as failed exists",
      ok: happened.length === 0,
      detail: `${failed} answered failed, ${happened.length} exist anyway` + examples(happened),
    },
    {
      name: "5 no order twice, none unknown",
      ok: twice.length === 0 && phantoms === 0,
      detail: `${twice.length} placed twice, ${phantoms} in the database that no client sent` +
        examples(twice),
    },
  ];
}

/**
 * Check 3's second half: every acknowledged cancel's order is canceled; and an order whose every
 * cancel was answered as failed (none acknowledged or in doubt) is not.
 */
async function cancelCheck(sql: postgres.Sql, ledger: Ledger): Promise<CheckResult> {
  const ids = [...new Set(ledger.cancels.map((c) => c.orderId))];
  const rows = await sql`
    SELECT id::text AS id, canceled_at IS NOT NULL AS canceled FROM orders
    WHERE id = ANY(${ids}::bigint[])`;
  const canceled = new Map(rows.map((r) => [r.id as string, r.canceled as boolean]));
  const mayHaveCanceled = new Set(
    ledger.cancels.filter((c) => c.answer === "acknowledged" || c.answer === "in_doubt")
      .map((c) => c.orderId),
  );
  const wrong: string[] = [];
  for (const cancel of ledger.cancels) {
    if (cancel.answer === "acknowledged" && canceled.get(cancel.orderId) !== true) {
      wrong.push(`order ${cancel.orderId}: cancel acknowledged, not canceled`);
    }
    if (
      NOTHING_HAPPENED.has(cancel.answer) && !mayHaveCanceled.has(cancel.orderId) &&
      canceled.get(cancel.orderId) === true
    ) {
      wrong.push(`order ${cancel.orderId}: cancel answered "${cancel.text}", canceled anyway`);
    }
  }
  const acknowledged = ledger.cancels.filter((c) => c.answer === "acknowledged").length;
  return {
    name: "3b every acknowledged cancel took effect, no failed one did",
    ok: wrong.length === 0,
    detail: `${acknowledged} cancels acknowledged, ${wrong.length} wrong` + examples(wrong),
  };
}

function inDoubtOrders(ledger: Ledger) {
  return ledger.orders.filter((o) => o.answer === "in_doubt");
}

/** Each in-doubt order is committed if exactly one row carries its tag, else not. */
function resolveDoubts(
  ledger: Ledger,
  matches: Array<{ rows: number; id: string | null }>,
): DoubtResolution {
  let committed = 0;
  let notCommitted = 0;
  ledger.orders.forEach((order, i) => {
    if (order.answer !== "in_doubt") {
      return;
    }
    const rows = matches[i]!.rows;
    if (rows === 1) {
      committed++;
    } else if (rows === 0) {
      notCommitted++;
    }
  });
  return { committed, notCommitted };
}

function examples(items: string[]): string {
  return items.length === 0 ? "" : `: ${items.slice(0, EXAMPLES_MAX).join("; ")}`;
}
