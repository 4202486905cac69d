import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { awaitReadyLine, formatReadyLine, parseReadyLine } from "../../src/server/ready_line.ts";

const enc = new TextEncoder();

/** A stdout that delivers `chunks`, then ends (or stays open when `end` is false). */
function stdoutOf(chunks: string[], end = true): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(enc.encode(chunk));
      }
      if (end) {
        controller.close();
      }
    },
  });
}

Deno.test("parseReadyLine reads what formatReadyLine writes, and nothing else", () => {
  const line = formatReadyLine("127.0.0.1", 4321, "database: test");
  deepStrictEqual(parseReadyLine(`starting\n${line}\nlater`), {
    line,
    port: 4321,
    pid: Deno.pid,
  });
  strictEqual(parseReadyLine(line)?.line, line);
  strictEqual(parseReadyLine("exchange server listening on :x (pid 1)"), undefined);
});

Deno.test("awaitReadyLine finds a line split across chunks and hands on what follows", async () => {
  const later: string[] = [];
  const ready = await awaitReadyLine(
    stdoutOf(["log\nexchange server listen", "ing on 0.0.0.0:99 (pid 7), x\nafter\n", "more"]),
    5_000,
    (text) => later.push(text),
  );
  deepStrictEqual([ready.port, ready.pid], [99, 7]);
  // The drain runs on after the ready line until the output ends.
  for (let i = 0; i < 500 && later.length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  deepStrictEqual(later, ["after\n", "more"]);
});

Deno.test("awaitReadyLine fails when the output ends first, or when the time is up", async () => {
  await rejects(
    awaitReadyLine(stdoutOf(["error: cannot start\n"]), 5_000),
    /server exited before it was ready: error: cannot start/,
  );
  await rejects(
    awaitReadyLine(stdoutOf(["still starting\n"], false), 50),
    /server not ready after 50 ms: still starting/,
  );
});
