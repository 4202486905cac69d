/** `main.ts` on its command line: help, and refusal of bad options before anything starts. */
import { ok, strictEqual } from "node:assert/strict";
import { OPTIONS } from "../../src/option_specs.ts";
import { denoRunFlags } from "../../src/server/deno_run_flags.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...denoRunFlags(), MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test("main.ts --help prints every option and exits 0", async () => {
  const { code, stdout } = await runMain(["--help"]);
  strictEqual(code, 0);
  ok(stdout.startsWith("Usage: deno task serve [options]"), stdout);
  for (const option of OPTIONS) {
    ok(stdout.includes(`--${option.flag}`), `--${option.flag} in the help`);
  }
});

Deno.test("main.ts refuses a bad option value with exit 2, the reason and the usage", async () => {
  // A data directory that must not be created: nothing may start before the options are valid.
  const parent = await Deno.makeTempDir();
  try {
    const dataDir = `${parent}/never`;
    const { code, stdout, stderr } = await runMain(["--port", "70000", "--data-dir", dataDir]);
    strictEqual(code, 2);
    strictEqual(stdout, "");
    ok(stderr.startsWith("Option --port must be between 0 and 65535, got 70000\n"), stderr);
    ok(stderr.includes("Usage: deno task serve"), stderr);
    strictEqual(await Deno.stat(dataDir).then(() => true, () => false), false);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("main.ts refuses an unknown flag with exit 2", async () => {
  const { code, stderr } = await runMain(["--no-such-flag"]);
  strictEqual(code, 2);
  ok(stderr.includes("--no-such-flag"), stderr);
  ok(stderr.includes("Usage: deno task serve"), stderr);
});
