/**
 * The client examples of examples/ run against a real server, as a client author would run them
 * (`python3 examples/client.py`, `deno run --allow-net examples/client.ts`), so they cannot rot.
 * Both print the same lines; every answer is checked.
 */
import { match, strictEqual } from "node:assert/strict";
import { startTestServer } from "./support/harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs a command in the repository; a missing program fails with `missing`. */
async function run(program: string, args: string[], missing: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args,
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(missing);
    }
    throw error;
  }
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  strictEqual(output.code, 0, `${program} ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
  return stdout;
}

/** Escapes `text` for use inside a regular expression. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The lines both examples print: answers exact, but for transaction ids (`N`) and times (`T`). */
function assertTranscript(stdout: string, seller: string, sym: string): void {
  const buyer = `${seller}1`;
  const ioc = `binary > <transactions id="${buyer}"><order sym="${sym}" amount="10" limit="13" ` +
    `tif="IOC" stp="cancel-newest" ref="retry-1"/></transactions>`;
  const expected = [
    `text   > <create><account id="${seller}" balance="10000"/><symbol sym="${sym}">` +
    `<account id="${seller}">100</account></symbol></create>`,
    `text   < <results><created id="${seller}"/><created sym="${sym}" id="${seller}"/></results>`,
    `text   > <transactions id="${seller}"><order sym="${sym}" amount="-10" limit="12.50"/>` +
    `</transactions>`,
    `text   < <results><opened sym="${sym}" amount="-10" limit="12.5" id="N"/></results>`,
    `binary > <create><account id="${buyer}" balance="1000"/></create>`,
    `binary < <results><created id="${buyer}"/></results>`,
    `binary > <transactions id="${buyer}"><order sym="${sym}" amount="4" limit="13"/>` +
    `</transactions>`,
    `binary < <results><opened sym="${sym}" amount="4" limit="13" id="B"/></results>`,
    `binary > <transactions id="${buyer}"><query id="B"/></transactions>`,
    // The buy met the resting sell at the sell's price, 12.5.
    `binary < <results><status id="B"><executed shares="4" price="12.5" time="T"/></status>` +
    `</results>`,
    // An IOC buy of 10 finds the 6 left of the offer; its other 4 are canceled at once.
    ioc,
    `binary < <results><opened sym="${sym}" amount="10" limit="13" tif="IOC" ` +
    `stp="cancel-newest" ref="retry-1" ` +
    `id="C"><canceled shares="4" time="T"/><executed shares="6" price="12.5" time="T"/>` +
    `</opened></results>`,
    // The same order again: answered with the first, nothing placed.
    ioc,
    `binary < <results><opened sym="${sym}" amount="10" limit="13" tif="IOC" ` +
    `stp="cancel-newest" ref="retry-1" ` +
    `id="C" repeated="true"><canceled shares="4" time="T"/>` +
    `<executed shares="6" price="12.5" time="T"/></opened></results>`,
  ];
  const lines = stdout.trimEnd().split("\n");
  strictEqual(lines.length, expected.length, stdout);
  const buyId = /<opened [^>]*id="([0-9]+)"/.exec(lines[7]!)?.[1] ?? "?";
  const iocId = /<opened [^>]*id="([0-9]+)"/.exec(lines[11]!)?.[1] ?? "?";
  expected.forEach((line, index) => {
    const pattern = literal(line).replaceAll('id="N"', 'id="[0-9]+"')
      .replaceAll('id="B"', `id="${buyId}"`).replaceAll('id="C"', `id="${iocId}"`)
      .replaceAll('time="T"', 'time="[0-9]+"');
    match(lines[index]!, new RegExp(`^${pattern}$`), `line ${index + 1}`);
  });
}

Deno.test("examples/client.py and examples/client.ts trade through a real server", async () => {
  const server = await startTestServer();
  try {
    const port = String(server.port);
    const python = await run(
      "python3",
      ["examples/client.py", "--port", port, "--account", "7001", "--symbol", "PY"],
      "python3 is not installed: the Python example (examples/client.py) cannot be checked. " +
        "Install Python 3 (every supported machine has it).",
    );
    assertTranscript(python, "7001", "PY");
    const deno = await run(
      Deno.execPath(),
      [
        "run",
        "--allow-net",
        "examples/client.ts",
        "--port",
        port,
        "--account",
        "7002",
        "--symbol",
        "TS",
      ],
      "the deno executable running this test was not found",
    );
    assertTranscript(deno, "7002", "TS");
  } finally {
    await server.close();
  }
});
