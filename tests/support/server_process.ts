/** Runs the real server (`main.ts`) as a child process, as a user would, for lifecycle tests. */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 60_000;

export interface ServerProcess {
  port: number;
  pid: number;
  /** Everything the process printed on stderr so far (logs). */
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit status once the process ends. */
  status: Promise<Deno.CommandStatus>;
}

/** Starts `main.ts` with `args` on a free port; resolves once it prints its ready line. */
export async function startServerProcess(args: string[]): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--port", "0", "--host", "127.0.0.1", ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let errors = "";
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      errors += chunk;
    }
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  const reader = lines.getReader();
  let out = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`server exited before it was ready:\n${out}\n${errors}`);
      }
      out += value;
      const match = /listening on [^\s]+:(\d+) \(pid (\d+)\)/.exec(out);
      if (match !== null) {
        // Keep draining stdout so the child never blocks on a full pipe.
        (async () => {
          try {
            for (;;) {
              if ((await reader.read()).done) return;
            }
          } catch {
            // Ended.
          }
        })();
        return {
          port: Number(match[1]),
          pid: Number(match[2]),
          stderr: () => errors,
          kill: (signal) => child.kill(signal),
          status: child.status,
        };
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}
