/**
 * Test support: a TCP port of 127.0.0.1 for a server that needs its port before it starts
 * (PostgreSQL reads it from its configuration, so the operating system cannot choose it).
 */

/**
 * A port that was free a moment ago: the operating system picks it, and the listener is closed
 * at once. Another process could take it before the server binds it; the ephemeral range is
 * large and the window is milliseconds, so tests accept that risk.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
