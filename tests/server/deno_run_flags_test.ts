/**
 * `denoRunFlags`: the server processes that tests start are counted by coverage, top-level
 * branches included, even when Deno's code cache already holds their modules.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { denoRunFlags } from "../../src/server/deno_run_flags.ts";
import { lcovTotals } from "../../scripts/coverage/lcov_totals.ts";

const FIXTURE = `const many = Deno.args.length > 1;
if (many) {
  console.log("many");
} else {
  console.log("few");
}
`;

async function deno(args: string[], env: Record<string, string> = {}): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), { args, env, stdout: "piped" }).output();
  strictEqual(output.code, 0, `deno ${args.join(" ")} exited with ${output.code}`);
  return new TextDecoder().decode(output.stdout);
}

Deno.test("denoRunFlags compiles children afresh only under coverage", () => {
  deepStrictEqual(denoRunFlags(() => undefined), []);
  deepStrictEqual(denoRunFlags(() => ""), []);
  deepStrictEqual(
    denoRunFlags((name) => name === "DENO_COVERAGE_DIR" ? "/tmp/profiles" : undefined),
    ["--no-code-cache"],
  );
});

Deno.test("a child run with denoRunFlags writes a profile with its top-level branches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deno-run-flags-" });
  try {
    const module = `${dir}/fixture.ts`;
    await Deno.writeTextFile(module, FIXTURE);
    // A first run without coverage fills Deno's code cache with this module.
    strictEqual(await deno(["run", module]), "few\n");
    const profiles = `${dir}/profiles`;
    const env = { DENO_COVERAGE_DIR: profiles };
    const flags = denoRunFlags((name) => env[name as keyof typeof env]);
    strictEqual(await deno(["run", ...flags, module], env), "few\n");
    const totals = lcovTotals(await deno(["coverage", "--lcov", profiles]));
    // Both arms of the `if` are counted; only the "few" arm ran.
    deepStrictEqual(totals.branches, { hit: 1, found: 2 });
    ok(
      totals.lines.hit < totals.lines.found,
      `the "many" line is uncovered: ${JSON.stringify(totals.lines)}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
