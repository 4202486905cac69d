/**
 * The last resort for errors nobody handled: a rejected promise without a handler, or an
 * exception thrown from a timer or an event. Deno ends the process on either by default; for an
 * exchange that is the worst outcome (every client of every book loses its connection, and
 * requests in flight are answered by nobody). Every failure is meant to be handled where it
 * happens (the transaction helper, the connection pool, the connection pipeline); reaching here
 * is logged whole, with its stack, and counted:
 * - `bug`: anything but a database connection failure. Counted in
 *   `exchange_unhandled_errors_total`, which the fault suite requires to stay at zero.
 * - `driver`: a plain promise rejected with a connection failure (ECONNREFUSED, ECONNRESET,
 *   57P03 "starting up / shutting down") while PostgreSQL restarts. Every statement the server
 *   makes is observed the moment it is made (connection_pool.ts), and the operation such a
 *   connection served was answered through its lease's close event; what is left is a promise
 *   inside postgres.js 3.4.9 or Deno's node:net that nobody can reach (seen only under restarts
 *   in the fault suite, never a Query of ours). Counted apart in
 *   `exchange_driver_stray_rejections_total`, so that it stays visible without hiding bugs.
 */

/** What reached the last resort. */
export type StrayKind = "bug" | "driver";

/** Installs the handlers for this process; returns a function that removes them. */
export function installLastResort(
  log: (line: string) => void,
  count: (kind: StrayKind) => void,
  isConnectionFailure: (error: unknown) => boolean,
): () => void {
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    const kind: StrayKind = isConnectionFailure(event.reason) ? "driver" : "bug";
    count(kind);
    log(
      kind === "bug"
        ? `unhandled rejection (a bug; the process goes on): ${describe(event.reason)}`
        : `stray driver rejection after a lost database connection: ${describe(event.reason)}`,
    );
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    count("bug");
    log(`uncaught exception (a bug; the process goes on): ${describe(event.error)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.stack ?? error.message}${code === undefined ? "" : ` (code ${code})`}`;
  }
  return String(error);
}
