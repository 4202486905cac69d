import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { buildConfig, ConfigError, DEFAULT_LIMITS, readOptions } from "../src/config.ts";
import { OPTION, OPTIONS } from "../src/option_specs.ts";
import { optionsHelp } from "../src/options_text.ts";

const noEnv = () => undefined;

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

Deno.test("readOptions takes a flag over its environment variable, and the variable alone", () => {
  const env = envOf({ EXCHANGE_PORT: "2000", EXCHANGE_POOL_SIZE: "4" });
  const { values } = readOptions(["--port", "3000"], env);
  strictEqual(values.get("port"), "3000");
  strictEqual(values.get("pool-size"), "4");
  strictEqual(values.has("workers"), false);
});

Deno.test("readOptions returns extra options apart and refuses unknown flags", () => {
  const { values, extra } = readOptions(["--worker", "--help"], noEnv, {
    worker: { type: "boolean" },
  });
  deepStrictEqual(extra, { worker: true });
  strictEqual(values.get("help"), true);
  throws(() => readOptions(["--no-such-flag"], noEnv), TypeError);
});

Deno.test("buildConfig uses the documented defaults when nothing is given", () => {
  const config = buildConfig(new Map(), 2);
  strictEqual(config.host, "0.0.0.0");
  strictEqual(config.port, 12345);
  strictEqual(config.workers, 1);
  deepStrictEqual(config.limits, { ...DEFAULT_LIMITS });
  strictEqual(config.database.url, undefined);
  strictEqual(config.database.dataDir, ".data");
  strictEqual(config.database.reset, false);
});

Deno.test("buildConfig reads every value given as text", () => {
  const { values } = readOptions([
    "--host=127.0.0.1",
    "--port=0",
    "--data-dir=/tmp/x",
    "--database-url=postgres://u@h/db",
    "--frame-bytes-max=2048",
    "--reset",
  ], noEnv);
  const config = buildConfig(values, 2);
  strictEqual(config.host, "127.0.0.1");
  strictEqual(config.port, 0);
  strictEqual(config.database.dataDir, "/tmp/x");
  strictEqual(config.database.url, "postgres://u@h/db");
  strictEqual(config.limits.frameBytesMax, 2048);
  strictEqual(config.database.reset, true);
});

Deno.test("buildConfig refuses a value that is not a whole number, naming the option", () => {
  for (const raw of ["12.5", "-1", "1e3", " 7", ""]) {
    throws(
      () => buildConfig(new Map([["pool-size", raw]]), 2),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message === `Option --pool-size must be a whole number, got ${JSON.stringify(raw)}`,
    );
  }
});

Deno.test("buildConfig refuses values out of range, and accepts both ends", () => {
  throws(
    () => buildConfig(new Map([["port", "65536"]]), 2),
    /Option --port must be between 0 and 65535, got 65536/,
  );
  throws(() => buildConfig(new Map([["xml-depth-max", "2"]]), 2), ConfigError);
  strictEqual(buildConfig(new Map([["port", "65535"]]), 2).port, 65535);
  strictEqual(buildConfig(new Map([["xml-depth-max", "3"]]), 2).limits.xmlDepthMax, 3);
  // The most workers is 64, or the number of cores if that is larger.
  throws(() => buildConfig(new Map([["workers", "65"]]), 2), ConfigError);
  strictEqual(buildConfig(new Map([["workers", "65"]]), 128).workers, 65);
});

Deno.test("optionsHelp lists every option with its argument, default, range and variable", () => {
  const text = optionsHelp();
  const flags = text.split("\n").filter((l) => l.startsWith("  --"));
  strictEqual(flags.length, OPTIONS.length);
  ok(/^ {2}--port N +TCP port \(default 12345; 0–65535\) \[env EXCHANGE_PORT\]$/m.test(text), text);
  ok(/^ {2}--reset +delete all exchange data/m.test(text));
  ok(/^ {2}--database-url VALUE +use this PostgreSQL instead of the embedded one\s/m.test(text));
  // A meaning that does not fit one line continues under itself, never past 100 columns.
  ok(text.split("\n").every((l) => l.length <= 100));
  ok(/^ {36}\S/m.test(text));
});

Deno.test("buildConfig takes every option's default from its spec", () => {
  const config = buildConfig(new Map(), 2);
  strictEqual(config.database.poolSize, OPTION.poolSize.default);
  strictEqual(config.engine.batchOperationsMax, OPTION.batchOperationsMax.default);
  strictEqual(config.http.port, OPTION.httpPort.default);
  strictEqual(config.log.format, OPTION.logFormat.default);
  // Each integer option refuses one past either end of its range.
  for (const option of OPTIONS) {
    if (option.kind !== "integer" || option.maxAtLeastCores === true) {
      continue;
    }
    throws(() => buildConfig(new Map([[option.flag, String(option.max + 1)]]), 2), ConfigError);
    if (option.min > 0) {
      throws(() => buildConfig(new Map([[option.flag, String(option.min - 1)]]), 2), ConfigError);
    }
    buildConfig(new Map([[option.flag, String(option.max)]]), 2);
  }
});
