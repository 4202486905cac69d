/** ConnectionState alone: every deadline decided from what it is told, with made-up times. */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { ConnectionState } from "../../src/server/connection_state.ts";

const LIMITS = { frameTimeoutMs: 100, idleTimeoutMs: 1_000 };
const NONE = { action: "none" };

function endInput(reason: string) {
  return { action: "end-input", reason };
}

Deno.test("ConnectionState gives a client silent since connecting the frame timeout", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.awaitingClient(0);
  deepStrictEqual(state.check(100), NONE);
  deepStrictEqual(state.check(101), endInput("sent nothing"));
});

Deno.test("ConnectionState closes a connection idle longer than the idle timeout", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.awaitingClient(0);
  state.clientAnswered(10, 20);
  state.decoded(false, 1);
  state.awaitingClient(10);
  deepStrictEqual(state.check(1_010), NONE);
  deepStrictEqual(state.check(1_011), endInput("idle"));
});

Deno.test("ConnectionState times a frame by the time spent waiting for the client only", () => {
  const state = new ConnectionState(LIMITS, 0);
  // Half a frame arrives at 10, then the reader waits for the rest.
  state.awaitingClient(0);
  state.clientAnswered(10, 5);
  state.decoded(true, 0);
  state.awaitingClient(10);
  deepStrictEqual(state.check(110), NONE);
  deepStrictEqual(
    state.check(111),
    endInput("timed out after 100 ms without a complete frame"),
  );
});

Deno.test("ConnectionState does not count backpressure against a half-read frame", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.awaitingClient(0);
  state.clientAnswered(10, 5);
  // The next request is half read while one runs: the reader is held back, not waiting.
  state.requestStarted();
  state.decoded(true, 3);
  deepStrictEqual(state.check(10_000), NONE);
  state.requestEnded();
  // The reader waits for the client again: from now on the wait counts.
  state.awaitingClient(10_000);
  deepStrictEqual(state.check(10_100), NONE);
  deepStrictEqual(state.check(10_101).action, "end-input");
});

Deno.test("ConnectionState restarts the frame deadline for each new frame", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.awaitingClient(0);
  state.clientAnswered(60, 5);
  state.decoded(true, 0);
  state.awaitingClient(60);
  state.clientAnswered(150, 5);
  // The first frame completed (90 ms of waiting) and a second one began in the same chunk.
  state.decoded(true, 1);
  state.awaitingClient(150);
  deepStrictEqual(state.check(250), NONE);
  deepStrictEqual(state.check(251).action, "end-input");
});

Deno.test("ConnectionState counts a wait in progress when the frame began during it", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.awaitingClient(0);
  state.clientAnswered(10, 5);
  // The reader reads ahead (waits from 10) while the decoder takes the chunk queued earlier.
  state.awaitingClient(10);
  state.decoded(true, 0);
  deepStrictEqual(state.check(111).action, "end-input");
});

Deno.test("ConnectionState force-closes a client that does not read its answers", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.clientAnswered(1, 10);
  state.writeStarted(5);
  deepStrictEqual(state.check(105), NONE);
  deepStrictEqual(state.check(106), { action: "force-close" });
  state.writeEnded(50, true);
  deepStrictEqual(state.check(106), NONE);
});

Deno.test("ConnectionState ends input on shutdown only when nothing is in flight", () => {
  const state = new ConnectionState(LIMITS, 0);
  state.clientAnswered(1, 10);
  state.requestStarted();
  state.shutdown();
  deepStrictEqual(state.check(2), NONE);
  state.requestEnded();
  deepStrictEqual(state.check(3), endInput("server shutting down"));
});

Deno.test("ConnectionState keeps the first end reason and decides nothing once closed", () => {
  const state = new ConnectionState(LIMITS, 0);
  strictEqual(state.endInput("idle"), true);
  strictEqual(state.endInput("connection closed"), false);
  strictEqual(state.endReason, "idle");
  strictEqual(state.phase, "draining");
  deepStrictEqual(state.check(10_000), NONE);
  state.writeStarted(0);
  strictEqual(state.close(), true);
  strictEqual(state.close(), false);
  deepStrictEqual(state.check(10_000), NONE);
  state.stopReading();
  strictEqual(state.phase, "stopped");
});
