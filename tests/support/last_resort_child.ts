/**
 * A process for last_resort_test.ts: installs the last resort as serve.ts does, then lets an
 * error of each kind reach it (a rejection nobody handles, a connection failure rejected the same
 * way, an exception thrown from a timer) and prints what was counted and logged as one JSON line.
 * With the argument `removed`, the handlers are removed again and only the rejection is made: the
 * process must then end on it, as Deno does by default, which shows the handlers kept it up.
 */
import { isUnavailable } from "../../src/db/errors.ts";
import { installLastResort, type StrayKind } from "../../src/server/last_resort.ts";

const counts: Record<StrayKind, number> = { bug: 0, driver: 0 };
const lines: string[] = [];
const remove = installLastResort(
  (line) => lines.push(line),
  (kind) => counts[kind]++,
  isUnavailable,
);
if (Deno.args[0] === "removed") {
  remove();
  Promise.reject(new Error("nobody awaited this"));
} else {
  Promise.reject(new Error("nobody awaited this"));
  Promise.reject(
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
  );
  Promise.reject("a bare string");
  setTimeout(() => {
    throw new TypeError("thrown from a timer");
  }, 0);
}
// Each error above is delivered on a later turn of the event loop, in an order of its own;
// report after all of them.
await new Promise((resolve) => setTimeout(resolve, 50));
console.log(JSON.stringify({ counts, lines }));
