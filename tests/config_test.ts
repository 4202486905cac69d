/** Options from flags and the environment: booleans read strictly, before any data is touched. */
import { ok, strictEqual, throws } from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, readOptions } from "../src/config.ts";

function resetFromEnv(value: string): boolean | string | undefined {
  const env = (name: string) => name === "EXCHANGE_RESET" ? value : undefined;
  return readOptions([], env).values.get("reset");
}

Deno.test("readOptions accepts exactly 1/true/yes and 0/false/no, in any case, for a boolean", () => {
  for (const yes of ["1", "true", "yes", "TRUE", "Yes", "tRuE"]) {
    strictEqual(resetFromEnv(yes), true, yes);
  }
  for (const no of ["0", "false", "no", "FALSE", "No", "nO"]) {
    strictEqual(resetFromEnv(no), false, no);
  }
});

Deno.test("readOptions refuses any other boolean value from the environment", () => {
  for (const value of ["off", "on", "n", "y", "2", "ye", " true", "false ", "nope", "none"]) {
    throws(
      () => resetFromEnv(value),
      (error) =>
        error instanceof ConfigError &&
        error.message.startsWith("Environment variable EXCHANGE_RESET must be 1, true, yes"),
      value,
    );
  }
  // The flag wins and is never read from text.
  strictEqual(
    readOptions(["--reset"], (n) => n === "EXCHANGE_RESET" ? "off" : undefined).values.get(
      "reset",
    ),
    true,
  );
});

Deno.test("server with EXCHANGE_RESET=off stops with a configuration error before touching data", async () => {
  const base = await Deno.makeTempDir({ prefix: "exchange-config-" });
  const dataDir = join(base, "data");
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname],
      env: { EXCHANGE_RESET: "off", EXCHANGE_DATA_DIR: dataDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.code, 2, stderr);
    ok(stderr.startsWith("Environment variable EXCHANGE_RESET must be"), stderr);
    ok(!stderr.includes("    at "), `no stack trace: ${stderr}`);
    // No database was created or started: the data directory does not exist.
    let created = true;
    await Deno.stat(dataDir).catch(() => {
      created = false;
    });
    ok(!created, "the data directory was not created");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
