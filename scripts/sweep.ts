/**
 * Measures one deep sweep (issue 19): starts the real server (`main.ts`) on a fresh embedded
 * database in a temporary directory, places `--depth` resting one-share sells on one symbol
 * from one account (over many binary connections, so that the engine batches them), then one
 * buy that sweeps them all, and prints how long that buy took, measured by the client from
 * sending it to its answer. Checks that the buy filled everything.
 *
 *   deno task sweep [--depth 60000] [--levels 100] [--repeat 1]
 *                   [--server-args="--batch-rows-max 4096"]
 *
 * The sells spread over `--levels` prices (100.00, 100.01, ...), ids interleaved across
 * prices, so that the sweep walks price-time priority rather than one id range. With
 * `--repeat N` the book is refilled and swept N times on the same server.
 */
import { parseArgs } from "node:util";
import { BinaryClient } from "../src/client/exchange_client.ts";
import { parseAnswer } from "../src/client/parse_answer.ts";
import { freePort, startServer } from "./bench/server_process.ts";

/** Connections placing the resting sells at once (each sends its requests one by one). */
const CONNECTIONS = 64;
/** Sells per request: a request's operations run one after another, so keep them short. */
const ORDERS_PER_REQUEST = 50;

function whole(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!/^[1-9][0-9]*$/.test(value)) {
    throw new RangeError(`--${name} must be a positive whole number, got ${value}`);
  }
  return Number(value);
}

/** One answer's elements, all of which must be `name`. */
function expectAll(xml: string, name: string, count: number): void {
  const elements = parseAnswer(xml);
  if (elements.length !== count || elements.some((e) => e.name !== name)) {
    throw new Error(`expected ${count} <${name}>, got: ${xml.slice(0, 300)}`);
  }
}

/** Places `depth` one-share sells of `sym` by `account` at `levels` prices. */
async function placeSells(
  clients: BinaryClient[],
  account: string,
  sym: string,
  depth: number,
  levels: number,
): Promise<void> {
  let next = 0;
  await Promise.all(clients.map(async (client) => {
    while (next < depth) {
      const start = next;
      const count = Math.min(ORDERS_PER_REQUEST, depth - start);
      next += count;
      const orders: string[] = [];
      for (let i = start; i < start + count; i++) {
        const cents = 10_000 + (i % levels);
        orders.push(`<order sym="${sym}" amount="-1" limit="${(cents / 100).toFixed(2)}"/>`);
      }
      const answer = await client.request(
        `<transactions id="${account}">${orders.join("")}</transactions>`,
      );
      expectAll(answer, "opened", count);
    }
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      depth: { type: "string" },
      levels: { type: "string" },
      repeat: { type: "string" },
      "server-args": { type: "string" },
    },
    strict: true,
  });
  const depth = whole(values.depth, 60_000, "depth");
  const levels = whole(values.levels, 100, "levels");
  const repeat = whole(values.repeat, 1, "repeat");
  const extraArgs = (values["server-args"] ?? "").split(/\s+/).filter((arg) => arg !== "");
  const dataDir = await Deno.makeTempDir({ prefix: "exchange-sweep-" });
  const server = await startServer({
    port: freePort(),
    database: { serverArgs: ["--data-dir", dataDir], dataDir },
    cpuList: undefined,
    // Generous deadlines: before issue 19 a 60,000-row sweep took over 20 s here, and the
    // default 10 s ones answered it `Service unavailable` instead of measuring it.
    extraArgs: [
      "--operation-timeout-ms",
      "600000",
      "--statement-timeout-ms",
      "600000",
      "--idle-in-transaction-timeout-ms",
      "600000",
      "--commit-resolve-ms",
      "10000",
      ...extraArgs,
    ],
  });
  const clients: BinaryClient[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i++) {
      clients.push(await BinaryClient.connect(server.port));
    }
    const top = (10_000 + levels - 1) / 100;
    const setup = await clients[0]!.request(
      `<create><account id="1" balance="0"/><account id="2" balance="${depth * top * repeat}"/>` +
        `<symbol sym="S"><account id="1">${depth * repeat}</account></symbol></create>`,
    );
    expectAll(setup, "created", 3);
    for (let round = 1; round <= repeat; round++) {
      const placing = performance.now();
      await placeSells(clients, "1", "S", depth, levels);
      const placed = performance.now() - placing;
      const sent = performance.now();
      const answer = await clients[0]!.request(
        `<transactions id="2"><order sym="S" amount="${depth}" limit="${top}"/></transactions>`,
      );
      const ms = performance.now() - sent;
      expectAll(answer, "opened", 1);
      const id = parseAnswer(answer)[0]!.attributes.id!;
      const status = parseAnswer(
        await clients[0]!.request(`<transactions id="2"><query id="${id}"/></transactions>`),
      )[0]!;
      const executed = status.children.filter((e) => e.name === "executed").length;
      const open = status.children.some((e) => e.name === "open");
      if (executed !== depth || open) {
        throw new Error(`the buy executed ${executed} times (open: ${open}), expected ${depth}`);
      }
      console.log(
        `round ${round}: placed ${depth} sells in ${(placed / 1000).toFixed(1)} s; ` +
          `the sweeping buy took ${(ms / 1000).toFixed(3)} s (${executed} fills)`,
      );
    }
  } finally {
    for (const client of clients) {
      client.close();
    }
    await server.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

await main();
