/**
 * The fault-injection suite, long form: a real server process on a real PostgreSQL, 16 trading
 * clients, and one kind of fault at a time (then all of them mixed), each followed by checks
 * that can fail (docs in tests/support/faults/; the short form runs in `deno task test`).
 *
 *   deno task faults [--kinds terminate,readonly,...] [--duration-ms 18000] [--clients 16]
 *                    [--target embedded|external] [--seed N]
 *
 * Exits 0 if every kind passed, 1 if any check failed, 2 on bad options.
 */
import { parseArgs } from "node:util";
import { KINDS, parseKinds } from "../tests/support/faults/kinds.ts";
import { formatSummary } from "../tests/support/faults/report.ts";
import { passed } from "../tests/support/faults/kind_result.ts";
import { runSuite, type TargetName } from "../tests/support/faults/suite.ts";
import { suiteModules } from "../tests/support/faults/modules.ts";

const USAGE = `Usage: deno task faults [options]
  --kinds a,b        kinds to run, in order (default: all: ${KINDS.join(",")})
  --duration-ms N    load per kind (default 18000)
  --clients N        closed-loop trading clients (default 16)
  --target T         embedded (PostgreSQL 18 of EmbeddedPostgres) or external (Debian
                     PostgreSQL 15, default settings); default embedded
  --seed N           seeds the clients and the controller (default: time-based, printed)`;

function positive(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`--${name} must be a whole number in 1..${max}, not ${text}`);
  }
  return value;
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        kinds: { type: "string", default: KINDS.join(",") },
        "duration-ms": { type: "string", default: "18000" },
        clients: { type: "string", default: "16" },
        target: { type: "string", default: "embedded" },
        seed: { type: "string", default: String(Date.now() % 1_000_000) },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.target !== "embedded" && values.target !== "external") {
      throw new RangeError(`--target must be embedded or external, not ${values.target}`);
    }
    options = {
      kinds: parseKinds(values.kinds),
      durationMs: positive("duration-ms", values["duration-ms"], 600_000),
      clients: positive("clients", values.clients, 256),
      target: values.target as TargetName,
      seed: positive("seed", values.seed, 2 ** 31),
    };
  } catch (error) {
    console.error(`faults: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  console.log(`fault suite: target ${options.target}, seed ${options.seed} (replay with --seed)`);
  const results = await runSuite({
    ...options,
    ...(await suiteModules()),
    log: (line) => console.log(line),
  });
  for (const line of formatSummary(results)) {
    console.log(line);
  }
  console.log(`   total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return results.every((r) => r.skipped !== undefined || passed(r)) ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main());
}
