/**
 * Administrative SQL of the controller (terminate backends, ALTER SYSTEM, create databases, hold
 * locks), sent with Debian's `psql` in a process of its own. While the database is being hurt,
 * the suite's own process holds no PostgreSQL connection: a driver bug at a broken connection
 * (postgres.js has had uncaught ones, issue 18) would otherwise end the suite instead of the
 * server, and blame would land on the wrong side.
 */
import { join } from "node:path";
import { PG15_BIN } from "./external_cluster.ts";
import { type CommandResult, runCommand } from "./run_command.ts";

/** Where and as whom psql connects. */
export interface PsqlTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Options of {@link psql}. */
export interface PsqlOptions {
  timeoutMs?: number;
  /** Statements fed on stdin as one script (for a transaction that holds a lock). */
  script?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Runs each of `commands` as its own statement (`-c` each: ALTER SYSTEM may not run inside a
 * transaction block), stopping at the first error. The session itself is never read-only, so
 * the read-only fault can always be undone.
 */
export function psql(
  target: PsqlTarget,
  commands: readonly string[],
  options: PsqlOptions = {},
): Promise<CommandResult> {
  const args = [
    "-X",
    "-q",
    "-A",
    "-t",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    target.host,
    "-p",
    String(target.port),
    "-U",
    target.user,
    "-d",
    target.database,
    ...commands.flatMap((command) => ["-c", command]),
  ];
  return runCommand(join(PG15_BIN, "psql"), args, {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: {
      PGCONNECT_TIMEOUT: "3",
      PGOPTIONS: "-c default_transaction_read_only=off -c statement_timeout=8000",
      PGAPPNAME: "fault-controller",
    },
    ...(options.script === undefined ? {} : { stdin: options.script }),
  });
}

/** Like {@link psql} but throws unless it succeeded; returns stdout. */
export async function psqlChecked(
  target: PsqlTarget,
  commands: readonly string[],
  options: PsqlOptions = {},
): Promise<string> {
  const result = await psql(target, commands, options);
  if (result.code !== 0 || result.timedOut) {
    throw new Error(`psql failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
  return result.stdout;
}
