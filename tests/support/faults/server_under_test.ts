/**
 * The server process a fault run hurts: the real `main.ts` in a child process, on a free port,
 * with its HTTP side on another free port (for `/metrics`), against the database URL given.
 */
import { type ServerChild, spawnServer } from "../../../src/server/server_process.ts";
import { freePort } from "../../../src/server/workers.ts";
import { sample } from "../metrics_text.ts";

const READY_TIMEOUT_MS = 60_000;
/**
 * The server is stopped only after every client has its answer or gave up on it, so what is
 * still in flight then belongs to requests already counted in doubt: a short grace is enough,
 * and a server hung on a silent database does not add its default 10 s to every kind.
 */
const SHUTDOWN_GRACE_MS = 3_000;
/** A SIGTERM'd server gets its shutdown grace and a margin before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/** A running server and what the checks read from it. */
export interface ServerUnderTest {
  readonly child: ServerChild;
  readonly port: number;
  readonly httpPort: number;
  /** The exit status once the process has ended on its own or was stopped. */
  exit(): Deno.CommandStatus | undefined;
  /** `exchange_unhandled_errors_total` (0 when absent), or an error text if /metrics failed. */
  unhandledErrors(): Promise<number | string>;
  /** SIGTERM, wait for the shutdown, SIGKILL if it takes too long; the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `main.ts --database-url url` with `extraArgs` after the suite's own. */
export async function startServerUnderTest(
  url: string,
  extraArgs: readonly string[],
): Promise<ServerUnderTest> {
  const httpPort = freePort("127.0.0.1");
  const child = await spawnServer({
    args: [
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--http-port",
      String(httpPort),
      "--http-host",
      "127.0.0.1",
      "--database-url",
      url,
      "--shutdown-grace-ms",
      String(SHUTDOWN_GRACE_MS),
      ...extraArgs,
    ],
    env: { NO_COLOR: "1" },
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
  let exit: Deno.CommandStatus | undefined;
  child.status.then((status) => exit = status);
  return {
    child,
    port: child.port,
    httpPort,
    exit: () => exit,
    async unhandledErrors() {
      try {
        const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, {
          signal: AbortSignal.timeout(5_000),
        });
        const text = await response.text();
        if (!response.ok) {
          return `GET /metrics answered ${response.status}`;
        }
        return sample(text, "exchange_unhandled_errors_total");
      } catch (error) {
        return `GET /metrics failed: ${(error as Error).message}`;
      }
    },
    async stop() {
      if (exit !== undefined) {
        return exit;
      }
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS);
      });
      const ended = await Promise.race([child.status, late]);
      clearTimeout(timer);
      if (ended === "late") {
        try {
          child.kill("SIGKILL");
        } catch {
          // Ended just now.
        }
      }
      return await child.status;
    },
  };
}
