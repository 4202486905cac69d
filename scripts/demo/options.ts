/** Command-line options of `deno task demo`; the defaults make `deno task demo` alone work. */
import { parseArgs } from "node:util";
import { wholeNumberFlag } from "../support/whole_number_flag.ts";

/** Everything one demo run needs to know. */
export interface DemoOptions {
  symbols: string[];
  /** Market makers per symbol, each with an account of its own. */
  makers: number;
  /** Takers, each trading every symbol from one account. */
  takers: number;
  /** Simulator steps per second (each: prices move, one taker order, one maker re-quotes). */
  rate: number;
  /** Seeds every random choice of the simulator, so that a run can be replayed. */
  seed: number;
  /** TCP port of the exchange; 0 picks a free one. */
  port: number;
  /** HTTP side port (the page); 0 picks a free one. */
  httpPort: number;
}

export const DEMO_USAGE = `Usage: deno task demo [options]

Starts the exchange on a throwaway embedded database with a simulated market beside it, prints
the order-book page's address, and runs until Ctrl-C (or SIGTERM), which stops everything and
removes the database.

Options:
  --symbols A,B,C   symbols traded (default ACME,BOLT,CRUX)
  --makers N        market makers per symbol (default 2)
  --takers N        takers, each trading every symbol (default 3)
  --rate N          simulator steps per second: prices move, one taker order, one maker
                    re-quotes (default 5)
  --seed N          replay a run: the same seed sends the same orders (default: random, printed)
  --port P          the exchange's TCP port (default 0: a free port, printed)
  --http-port P     the page's HTTP port (default 12380; 0: a free port)
  --help            this text`;

const SYMBOL_PATTERN = /^[A-Za-z0-9]+$/;
const SYMBOLS_MAX = 10;
const SEED_MAX = 2 ** 32 - 1;

/** Reads `args`; `null` when `--help` asked for the usage. Throws RangeError/TypeError on bad input. */
export function parseDemoOptions(
  args: readonly string[],
  randomSeed: () => number = () => Math.floor(Math.random() * 2 ** 31),
): DemoOptions | null {
  const { values } = parseArgs({
    args: [...args],
    options: {
      symbols: { type: "string" },
      makers: { type: "string" },
      takers: { type: "string" },
      rate: { type: "string" },
      seed: { type: "string" },
      port: { type: "string" },
      "http-port": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    return null;
  }
  return {
    symbols: parseSymbols(values.symbols ?? "ACME,BOLT,CRUX"),
    makers: wholeNumberFlag(values.makers, "makers", 2, 1, 10),
    takers: wholeNumberFlag(values.takers, "takers", 3, 1, 50),
    rate: wholeNumberFlag(values.rate, "rate", 5, 1, 100),
    seed: wholeNumberFlag(values.seed, "seed", randomSeed(), 0, SEED_MAX),
    port: wholeNumberFlag(values.port, "port", 0, 0, 65535),
    httpPort: wholeNumberFlag(values["http-port"], "http-port", 12380, 0, 65535),
  };
}

function parseSymbols(raw: string): string[] {
  const symbols = raw.split(",");
  const unique = new Set(symbols);
  if (
    symbols.length > SYMBOLS_MAX || unique.size !== symbols.length ||
    !symbols.every((sym) => SYMBOL_PATTERN.test(sym))
  ) {
    throw new RangeError(
      `Option --symbols takes 1 to ${SYMBOLS_MAX} different symbols (letters and digits) ` +
        `separated by commas, got ${raw}`,
    );
  }
  return symbols;
}
