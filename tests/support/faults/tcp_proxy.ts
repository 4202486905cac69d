/**
 * Test support for fault injection: a TCP proxy on 127.0.0.1 that sits between the exchange
 * server and PostgreSQL and can break the network on command (reset connections, or let it go
 * silent). It forwards bytes unchanged and knows nothing of the PostgreSQL protocol, so the
 * SSLRequest, its refusal and everything after pass through exactly as on a direct connection.
 *
 * Design choices, and why:
 * - Each proxied pair has two pump loops (client to server, server to client) that read into
 *   their own buffer and write the bytes on. A pump that ends (end of stream, or any error) ends
 *   its pair and nothing else, and every pump catches its own errors: a fault on one pair can
 *   never reach another pair or become an unhandled rejection, which Deno turns into a failed
 *   test.
 * - A normal end of one side closes both (no half-close): PostgreSQL clients send Terminate and
 *   then close, and the server answers a lost client by ending the backend, so a half-close is
 *   never needed to look like the real thing.
 * - Resets close both sockets at once. Deno has no SO_LINGER, so this is a close (FIN, or RST
 *   when unread bytes remain) rather than a forced RST; to both ends it looks like the peer
 *   vanished mid-conversation, which is the fault under test.
 * - A black hole keeps every socket open and keeps reading, but drops what it reads: nothing
 *   reaches the other side and nobody is told. Reading (rather than not reading) lets the proxy
 *   notice when both ends have given up and release the pair. Connections accepted while the
 *   network is black-holed are held, never connected upstream: to the client, connecting
 *   seems to work (the kernel completes the handshake on 127.0.0.1, unlike a real lost SYN), but
 *   the startup message gets no answer, so `connect_timeout` is what fires, as on a real
 *   network. TCP keepalive will NOT detect this black hole, because the proxy's kernel answers
 *   the probes; only application timeouts will.
 * - `heal()` only affects connections accepted afterwards. Pairs that were black-holed stay
 *   silent until someone closes them: the bytes they lost are gone, and forwarding what arrives
 *   later would hand each end a protocol stream with a hole in it, which no real network does.
 *   (A real network would also just resume, but an end that timed out has already given up.)
 */

/** Size of each pump's read buffer: PostgreSQL messages of a test workload fit many times over. */
const PUMP_BUFFER_BYTES = 64 * 1024;

/** Where the proxy forwards to. */
export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
}

interface Pair {
  client: Deno.TcpConn;
  /** Undefined while connecting upstream, and forever for a connection held by a black hole. */
  server: Deno.TcpConn | undefined;
  blackholed: boolean;
  closed: boolean;
  /** Sides whose pump has ended while black-holed (the other side is kept open on purpose). */
  endedSides: number;
}

/** A TCP proxy to one PostgreSQL host that can reset its connections or go silent. */
export class TcpProxy {
  /** Listening port on 127.0.0.1, chosen free by the operating system. */
  readonly port: number;
  /** Connections accepted, pairs closed by resets, pairs that a black hole swallowed. */
  readonly stats = { accepted: 0, resets: 0, blackholed: 0 };
  readonly #options: TcpProxyOptions;
  readonly #listener: Deno.TcpListener;
  readonly #pairs = new Set<Pair>();
  /** Every loop the proxy runs, so that close() can wait until all have ended. */
  readonly #tasks = new Set<Promise<void>>();
  #blackholed = false;
  #closing = false;

  private constructor(options: TcpProxyOptions, listener: Deno.TcpListener) {
    this.#options = options;
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#track(this.#acceptLoop());
  }

  /** Starts listening on a free port of 127.0.0.1. */
  static start(options: TcpProxyOptions): Promise<TcpProxy> {
    // The executor turns a failing listen into a rejection, as an async function would.
    return new Promise((resolve) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
      resolve(new TcpProxy(options, listener));
    });
  }

  /** Open proxied pairs, including connections held without an upstream by a black hole. */
  connectionCount(): number {
    return this.#pairs.size;
  }

  /** Abruptly closes `count` random open pairs on both sides; returns how many it closed. */
  resetRandom(count = 1): number {
    const open = [...this.#pairs];
    let closed = 0;
    while (closed < count && open.length > 0) {
      const index = Math.floor(Math.random() * open.length);
      const [pair] = open.splice(index, 1);
      if (pair !== undefined) {
        this.#closePair(pair);
        closed++;
      }
    }
    this.stats.resets += closed;
    return closed;
  }

  /** Abruptly closes every open pair on both sides; returns how many it closed. */
  resetAll(): number {
    return this.resetRandom(this.#pairs.size);
  }

  /**
   * Stops all forwarding without closing anything: bytes of open pairs are read and dropped,
   * and new connections are accepted but never connected upstream.
   */
  blackhole(): void {
    this.#blackholed = true;
    for (const pair of this.#pairs) {
      if (!pair.blackholed) {
        pair.blackholed = true;
        this.stats.blackholed++;
      }
    }
  }

  /** Forwards new connections again; pairs already black-holed stay silent until closed. */
  heal(): void {
    this.#blackholed = false;
  }

  /** Stops listening, closes every pair and waits until every loop of the proxy has ended. */
  async close(): Promise<void> {
    this.#closing = true;
    closeQuietly(this.#listener);
    for (const pair of this.#pairs) {
      this.#closePair(pair);
    }
    // Loops may start further loops (an accept starts pumps) until they see #closing.
    while (this.#tasks.size > 0) {
      await Promise.all(this.#tasks);
    }
  }

  #track(task: Promise<void>): void {
    // Every task catches its own errors; the catch here is a last guard against a bug turning
    // into an unhandled rejection.
    const guarded = task.catch(() => {}).finally(() => this.#tasks.delete(guarded));
    this.#tasks.add(guarded);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        // The listener was closed (by close()) or failed: either way there is nothing to accept.
        return;
      }
      this.stats.accepted++;
      if (this.#closing) {
        closeQuietly(client);
        return;
      }
      const pair: Pair = {
        client,
        server: undefined,
        blackholed: this.#blackholed,
        closed: false,
        endedSides: 0,
      };
      if (pair.blackholed) {
        this.stats.blackholed++;
      }
      this.#pairs.add(pair);
      this.#track(this.#open(pair));
    }
  }

  /** Connects a new pair upstream (unless a black hole holds it) and starts its pumps. */
  async #open(pair: Pair): Promise<void> {
    setNoDelay(pair.client);
    if (pair.blackholed) {
      // Held: read and drop the client's bytes until it gives up or the proxy closes.
      await this.#pump(pair, pair.client, () => undefined);
      return;
    }
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({
        hostname: this.#options.targetHost,
        port: this.#options.targetPort,
        transport: "tcp",
      });
    } catch {
      // The target refused or is down: the client sees its connection end, as through a
      // router whose next hop refuses.
      this.#closePair(pair);
      return;
    }
    if (pair.closed) {
      // Reset or closed while connecting upstream.
      closeQuietly(server);
      return;
    }
    setNoDelay(server);
    pair.server = server;
    await Promise.all([
      this.#pump(pair, pair.client, () => pair.server),
      this.#pump(pair, server, () => pair.client),
    ]);
  }

  /** Copies bytes from `from` to the other side until either ends; never throws. */
  async #pump(
    pair: Pair,
    from: Deno.TcpConn,
    to: () => Deno.TcpConn | undefined,
  ): Promise<void> {
    const buffer = new Uint8Array(PUMP_BUFFER_BYTES);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null || pair.closed) {
          break;
        }
        const target = to();
        if (pair.blackholed || target === undefined) {
          continue;
        }
        await writeAll(target, buffer.subarray(0, read));
      }
    } catch {
      // A reset, or the socket closed under us by a reset of this pair or by close().
    }
    if (!pair.blackholed || this.#closing) {
      this.#closePair(pair);
      return;
    }
    // In a black hole an end's close is lost like any other byte: the other end stays open.
    closeQuietly(from);
    pair.endedSides++;
    const sides = pair.server === undefined ? 1 : 2;
    if (pair.endedSides >= sides) {
      this.#closePair(pair);
    }
  }

  #closePair(pair: Pair): void {
    if (pair.closed) {
      return;
    }
    pair.closed = true;
    this.#pairs.delete(pair);
    closeQuietly(pair.client);
    if (pair.server !== undefined) {
      closeQuietly(pair.server);
    }
  }
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

function setNoDelay(conn: Deno.TcpConn): void {
  try {
    // PostgreSQL's protocol is request and answer: Nagle's delay would only add latency.
    conn.setNoDelay(true);
  } catch {
    // Already closed: the pump will find out.
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
