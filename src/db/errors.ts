/**
 * Classification of database failures, by SQLSTATE and by driver error code, so that callers
 * can tell "run it again" (deadlock, serialization failure) and "the database is away"
 * (connection lost, server shutting down) from a bug.
 */

/** SQLSTATEs after which the whole transaction may safely run again. */
const RETRYABLE_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/** Driver (postgres.js) and socket codes that mean the database cannot be reached. */
const UNAVAILABLE_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ACQUIRE_TIMEOUT", // no pool connection became free in time (connection_pool.ts)
  "CONNECTION_LOST", // the leased connection closed (connection_pool.ts)
  "DEADLINE_EXCEEDED", // the database did not answer before the operation's deadline
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOENT", // Unix socket file missing while PostgreSQL is down
  "EPIPE",
  "ETIMEDOUT",
  "NotConnected",
  "ConnectionRefused",
  "ConnectionReset",
  "BrokenPipe",
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** A deadlock or serialization failure: the transaction was rolled back and may run again. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

/** The database is unreachable, restarting or shutting down. */
export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (code === undefined) {
    return false;
  }
  return UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) ||
    UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2)) || code.startsWith("57P");
}

/**
 * SQLSTATEs of a database that cannot serve now but may soon: nothing about the operation was
 * wrong, so the client is told "Service unavailable" and may try again.
 */
const UNAVAILABLE_SQLSTATES = new Set([
  "25006", // read_only_sql_transaction: a standby or read-only server (during a failover)
]);

/**
 * SQLSTATE classes meaning the same: 08 connection exception; 53 insufficient resources (53300
 * too many connections, 53100 disk full, 53200 out of memory, 53400 configuration limit). And,
 * tested apart, 57P*: admin or crash shutdown (57P01, 57P02), cannot connect now (57P03, a
 * starting or recovering server), the database was dropped (57P04).
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(["08", "53"]);

/** The statement was canceled by statement_timeout (57014) or lock_timeout (55P03). */
export function isTimeout(error: unknown): boolean {
  const code = codeOf(error);
  return code === "57014" || code === "55P03";
}

/** The SQLSTATE or driver code of an error, for logs. */
export function errorCode(error: unknown): string {
  return codeOf(error) ?? "unknown";
}

/** SQLSTATE raised by `exchange_require()` (migrations/002_require.sql) when a check fails. */
export const REQUIREMENT_FAILED = "EX001";

/** The reason given to `exchange_require()`, if `error` is its refusal. */
export function requirementFailure(error: unknown): string | undefined {
  if (codeOf(error) === REQUIREMENT_FAILED) {
    return (error as Error).message;
  }
  return undefined;
}

/** A unique constraint was violated (23505). */
export function isUniqueViolation(error: unknown): boolean {
  return codeOf(error) === "23505";
}

/**
 * Another transaction stored an order with one of the batch's client references after the batch
 * read them (migrations/008, the unique index `orders_client_ref`): decide the batch again, and
 * it answers that order instead of placing a second one.
 */
export function isRefTaken(error: unknown): boolean {
  return isUniqueViolation(error) &&
    (error as { constraint_name?: unknown }).constraint_name === "orders_client_ref";
}

/** SQLSTATE raised by `exchange_apply_batch` when a balance changed after it was read. */
export const STALE_BALANCE = "EX002";

/** Another book's batch changed a balance this batch relied on: decide the batch again. */
export function isStaleBalance(error: unknown): boolean {
  return codeOf(error) === STALE_BALANCE;
}
