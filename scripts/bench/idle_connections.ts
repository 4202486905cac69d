/** Server memory with many open, idle binary connections. */
import { BinaryClient } from "../../src/client/exchange_client.ts";
import { rssBytes } from "./proc_stats.ts";

/** Memory of the server before, during and after holding the idle connections. */
export interface IdleResult {
  requested: number;
  /** Connections that were open and answered when memory was read. */
  held: number;
  errors: number;
  rssBeforeBytes: number;
  rssIdleBytes: number;
  rssAfterBytes: number;
}

const OPEN_BATCH = 50;
/** Lets the server settle (buffers, timers) before memory is read. */
const SETTLE_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens `count` binary connections; each sends one small valid request (a `<create>` of a new,
 * empty account) so the server has fully accepted it, then stays idle while RSS is read.
 */
export async function measureIdleConnections(options: {
  host: string;
  port: number;
  serverPid: number;
  count: number;
}): Promise<IdleResult> {
  const { host, port, serverPid, count } = options;
  const rssBeforeBytes = rssBytes(serverPid) ?? 0;
  const clients: BinaryClient[] = [];
  let errors = 0;
  // Digits that differ per run, so the accounts never already exist.
  const tag = String(Date.now() % 1_000_000_000);
  try {
    for (let start = 0; start < count; start += OPEN_BATCH) {
      const batch = Array.from({ length: Math.min(OPEN_BATCH, count - start) }, async (_, k) => {
        const client = await BinaryClient.connect(port, host);
        clients.push(client);
        const id = `${tag}${String(start + k).padStart(5, "0")}`;
        const answer = await client.request(`<create><account id="${id}" balance="0"/></create>`);
        if (!answer.includes("<created")) {
          errors++;
        }
      });
      for (const outcome of await Promise.allSettled(batch)) {
        if (outcome.status === "rejected") errors++;
      }
    }
    await sleep(SETTLE_MS);
    // Read twice and keep the larger: RSS moves a little as the allocator settles.
    const first = rssBytes(serverPid) ?? 0;
    await sleep(200);
    const rssIdleBytes = Math.max(first, rssBytes(serverPid) ?? 0);
    // A connection the server closed would have rejected its closed() promise by now.
    let closedEarly = 0;
    await Promise.all(
      clients.map((c) => Promise.race([c.closed().then(() => closedEarly++), sleep(0)])),
    );
    return {
      requested: count,
      held: clients.length - closedEarly,
      errors,
      rssBeforeBytes,
      rssIdleBytes,
      rssAfterBytes: await (async () => {
        for (const c of clients) c.close();
        await Promise.allSettled(clients.map((c) => c.closed()));
        await sleep(SETTLE_MS);
        return rssBytes(serverPid) ?? 0;
      })(),
    };
  } finally {
    for (const c of clients) c.close();
  }
}
