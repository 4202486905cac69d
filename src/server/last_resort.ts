/**
 * The last resort for errors nobody handled: a rejected promise without a handler, or an
 * exception thrown from a timer or an event. Deno ends the process on either by default; for an
 * exchange that is the worst outcome (every client of every book loses its connection, and
 * requests in flight are answered by nobody). Every failure is meant to be handled where it
 * happens (the transaction helper, the connection pool, the connection pipeline); reaching here
 * is a bug, so it is logged whole, with its stack, and counted in
 * `exchange_unhandled_errors_total`, which the fault suite requires to stay at zero.
 */

/** Installs the handlers for this process; returns a function that removes them. */
export function installLastResort(log: (line: string) => void, count: () => void): () => void {
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    count();
    log(`unhandled rejection (a bug; the process goes on): ${describe(event.reason)}`);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    count();
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
