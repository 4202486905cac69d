/**
 * `deno task demo`: a market to look at. Starts the exchange on a throwaway embedded database,
 * runs a small simulated market against it through the TCP protocol (scripts/demo/), prints
 * the order-book page's address, and on Ctrl-C (SIGINT) or SIGTERM stops the simulator, the
 * server and its PostgreSQL and removes the database directory.
 *
 *   deno task demo [--symbols ACME,BOLT,CRUX] [--makers 2] [--takers 3] [--rate 5] [--seed N]
 *                  [--port 0] [--http-port 12380]
 *
 * Exit status: 0 after a clean stop; 1 if the server failed, the market could not be set up or
 * something was left behind; 2 for a usage error.
 */
import { DEMO_USAGE, type DemoOptions, parseDemoOptions } from "./demo/options.ts";
import { MarketSimulator } from "./demo/market_simulator.ts";
import { SimLink } from "./demo/sim_link.ts";
import { Tally } from "./demo/tally.ts";
import { ThrowawayExchange } from "./demo/throwaway_exchange.ts";
import type { ServerProcess } from "./bench/server_process.ts";

function say(line: string): void {
  console.log(`demo: ${line}`);
}

/** Aborts with the signal's name on the first SIGINT or SIGTERM; later ones are ignored. */
function stopOnSignals(): AbortController {
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => controller.abort(signal));
  }
  return controller;
}

/** The command that sends the same orders again. */
function replayCommand(options: DemoOptions): string {
  return `deno task demo --seed ${options.seed} --symbols ${options.symbols.join(",")} ` +
    `--makers ${options.makers} --takers ${options.takers}`;
}

/** Runs the market until `stop` aborts or the server ends; returns false if the server ended. */
async function trade(
  options: DemoOptions,
  server: ServerProcess,
  stop: AbortController,
): Promise<boolean> {
  const tally = new Tally();
  const link = new SimLink(server.port, tally, stop.signal);
  let serverEnded = false;
  server.exited.then(() => {
    if (!stop.signal.aborted) {
      serverEnded = true;
      stop.abort("the server exited");
    }
  });
  try {
    const market = new MarketSimulator(options, link, tally);
    await market.setUp();
    say(`exchange on 127.0.0.1:${server.port} (TCP, docs/PROTOCOL.md), seed ${options.seed}`);
    say(
      `${options.symbols.join(", ")}: ${options.makers} market makers each, ` +
        `${options.takers} takers, ${options.rate} steps/s (replay: ${replayCommand(options)})`,
    );
    say(`open http://127.0.0.1:${server.httpPort}/?sym=${options.symbols[0]}`);
    say("Ctrl-C stops the market, the server and PostgreSQL, and removes the database");
    await market.run(options.rate, stop.signal, say);
  } finally {
    link.close();
    say(`stopping (${stop.signal.reason}); ${tally.summary()}`);
  }
  if (serverEnded) {
    console.error(server.stderrTail().join("\n"));
  }
  return !serverEnded;
}

async function main(): Promise<number> {
  let options: DemoOptions | null;
  try {
    options = parseDemoOptions(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${DEMO_USAGE}`);
    return 2;
  }
  if (options === null) {
    console.log(DEMO_USAGE);
    return 0;
  }
  // Listening before anything starts: a signal during the start stops what has started so far.
  const stop = stopOnSignals();
  const exchange = await ThrowawayExchange.create();
  say(`starting the exchange; its database lives in ${exchange.dataDir} until the demo stops`);
  let ok = false;
  try {
    const server = await exchange.start(options.port, options.httpPort);
    ok = stop.signal.aborted || await trade(options, server, stop);
  } catch (error) {
    console.error(`demo: ${(error as Error).message}`);
  } finally {
    const problems = await exchange.dispose();
    for (const problem of problems) {
      console.error(`demo: ${problem}`);
    }
    ok &&= problems.length === 0;
    if (problems.length === 0) {
      say(`server and PostgreSQL stopped, ${exchange.dataDir} removed`);
    }
  }
  return ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main());
}
