/**
 * The real server process (`main.ts`) with its HTTP side port: JSON logs with connection ids,
 * one clear line for a port in use, metrics summed over `--workers`, and `deno task client`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { freePort } from "../../src/server/workers.ts";
import { startServerProcess } from "../support/server_process.ts";
import { sample } from "../support/metrics_text.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CLIENT = new URL("../../scripts/client.ts", import.meta.url).pathname;

async function runClient(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", CLIENT, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function stop(server: { kill(s: Deno.Signal): void; status: Promise<Deno.CommandStatus> }) {
  server.kill("SIGTERM");
  await server.status;
}

Deno.test("server logs JSON lines with connection ids, and the client CLI talks to it", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-http-process-" });
  await Deno.chmod(dataDir, 0o755);
  const httpPort = freePort("127.0.0.1");
  const server = await startServerProcess([
    "--data-dir",
    dataDir,
    "--http-port",
    String(httpPort),
    "--log-format",
    "json",
    "--access-log",
  ]);
  try {
    const file = await Deno.makeTempFile({ suffix: ".xml" });
    await Deno.writeTextFile(
      file,
      `<create><account id="1" balance="1000"/><symbol sym="SPY"><account id="1">50</account></symbol></create>
       <transactions id="1"><order sym="SPY" amount="-5" limit="12.5"/></transactions>`,
    );
    const text = await runClient(["--port", String(server.port), file]);
    strictEqual(text.code, 0, text.stderr);
    ok(
      text.stdout.includes(
        `<results>\n  <created id="1"/>\n  <created sym="SPY" id="1"/>\n</results>`,
      ),
      text.stdout,
    );
    ok(text.stdout.includes(`  <opened sym="SPY" amount="-5" limit="12.5" id="1"/>`), text.stdout);

    const binary = await runClient(
      ["--port", String(server.port), "--binary", "-"],
      `<transactions id="1"><query id="1"/></transactions><transactions id="1"><query id="2"/></transactions>`,
    );
    strictEqual(binary.code, 0, binary.stderr);
    ok(
      binary.stdout.includes(`  <status id="1">\n    <open shares="5"/>\n  </status>`),
      binary.stdout,
    );
    ok(binary.stdout.includes(`<error id="2">`), binary.stdout);

    const book = await runClient(["book", "SPY", "--http-port", String(httpPort)]);
    strictEqual(book.code, 0, book.stderr);
    ok(/ask\s+12\.5\s+5\s+1/.test(book.stdout), book.stdout);

    const refused = await runClient(["--port", String(freePort("127.0.0.1")), file]);
    strictEqual(refused.code, 1);
    ok(refused.stderr.startsWith("connection failed"), refused.stderr);
    await Deno.remove(file);

    await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.body?.cancel());
    await stop(server);
    const lines = server.stderr().trim().split("\n");
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    ok(records.every((r) => typeof r.pid === "number" && typeof r.event === "string"));
    const requests = records.filter((r) => r.event === "request");
    strictEqual(requests.length, 4);
    ok(requests.every((r) => typeof r.conn === "string" && typeof r.ms === "number"));
    ok(records.some((r) => r.event === "http_request" && r.msg === "GET /healthz"));
    ok(records.some((r) => r.event === "message" && r.msg === "stopped cleanly"));
  } finally {
    await stop(server).catch(() => {});
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a taken HTTP port stops the start with one clear line", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-http-busy-" });
  await Deno.chmod(dataDir, 0o755);
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--http-port",
        String((taken.addr as Deno.NetAddr).port),
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    strictEqual(output.code, 1);
    const stderr = new TextDecoder().decode(output.stderr);
    const failure = stderr.split("\n").filter((line) => line.includes("cannot start"));
    strictEqual(failure.length, 1, stderr);
    ok(/HTTP port 127\.0\.0\.1:\d+ is already in use/.test(failure[0]!), stderr);
    ok(!/^\s+at /m.test(stderr), stderr);
  } finally {
    taken.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("with --workers the supervisor serves HTTP once, metrics summed over workers", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-http-workers-" });
  await Deno.chmod(dataDir, 0o755);
  const httpPort = freePort("127.0.0.1");
  const server = await startServerProcess([
    "--data-dir",
    dataDir,
    "--workers",
    "2",
    "--http-port",
    String(httpPort),
  ]);
  try {
    const requests = 40;
    for (let i = 0; i < requests; i++) {
      await sendText(server.port, `<create><account id="${i}" balance="1"/></create>`);
    }
    const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
    strictEqual(
      sample(text, "exchange_operations_total", { kind: "create_account", outcome: "ok" }),
      requests,
    );
    strictEqual(
      sample(text, "exchange_request_duration_seconds_count", { framing: "text" }),
      requests,
    );
    const symbols = await fetch(`http://127.0.0.1:${httpPort}/api/symbols`).then((r) => r.json());
    deepStrictEqual(symbols, { symbols: [] });
    strictEqual(await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status), 200);
  } finally {
    await stop(server);
    await Deno.remove(dataDir, { recursive: true });
  }
});
