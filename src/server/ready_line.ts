/**
 * The line a server process prints on stdout once it listens, and how other processes (the
 * `--workers` supervisor, the benchmark, the stress script, lifecycle tests) wait for it. One
 * module, because the format is a contract between processes.
 */

const READY_LINE = /exchange server listening on \S+:(\d+) \(pid (\d+)\)/;

/** `exchange server listening on HOST:PORT (pid PID), DETAIL`. */
export function formatReadyLine(host: string, port: number, detail: string): string {
  return `exchange server listening on ${host}:${port} (pid ${Deno.pid}), ${detail}`;
}

/** A ready line read from a server process. */
export interface ReadyLine {
  line: string;
  port: number;
  pid: number;
}

/** The port and pid of the ready line in `text`, if there is one. */
export function parseReadyLine(text: string): ReadyLine | undefined {
  const match = READY_LINE.exec(text);
  if (match === null) {
    return undefined;
  }
  const end = text.indexOf("\n", match.index);
  return {
    line: text.slice(match.index, end < 0 ? undefined : end),
    port: Number(match[1]),
    pid: Number(match[2]),
  };
}

/**
 * Reads a child's stdout until its ready line; afterwards keeps draining it (so the child never
 * blocks on a full pipe), handing later output to `rest` if given. Throws if the output ends or
 * `timeoutMs` passes first; stopping the child is then the caller's job.
 */
export async function awaitReadyLine(
  stdout: ReadableStream<Uint8Array>,
  timeoutMs: number,
  rest?: (text: string) => void,
): Promise<ReadyLine> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`server not ready after ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) {
        throw new Error(`server exited before it was ready: ${seen}`);
      }
      seen += value;
      const ready = parseReadyLine(seen);
      if (ready !== undefined) {
        const after = seen.slice(seen.indexOf(ready.line) + ready.line.length).replace(/^\n/, "");
        drain(reader, after, rest);
        return ready;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function drain(
  reader: ReadableStreamDefaultReader<string>,
  first: string,
  rest: ((text: string) => void) | undefined,
): void {
  (async () => {
    if (first !== "") {
      rest?.(first);
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      rest?.(value);
    }
  })().catch(() => {});
}
