/**
 * The last resort (src/server/last_resort.ts), in a process of its own: what reaches it is logged
 * and counted by kind, and the process goes on; without it, Deno ends the process.
 */
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runDeno } from "../support/deno_process.ts";

const CHILD = fileURLToPath(new URL("../support/last_resort_child.ts", import.meta.url));

function includes(text: string | undefined, part: string): void {
  ok(text?.includes(part), `expected ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
}

function runChild(...args: string[]) {
  return runDeno(["run", "--allow-read", CHILD, ...args]);
}

Deno.test("the last resort keeps the process up, counting bugs and stray driver failures apart", async () => {
  const { code, stdout, stderr } = await runChild();
  strictEqual(code, 0, stderr);
  const report = JSON.parse(stdout.trim()) as { counts: Record<string, number>; lines: string[] };
  // Two bugs by rejection (an Error, a bare string), one by a timer; one connection failure.
  deepStrictEqual(report.counts, { bug: 3, driver: 1 });
  strictEqual(report.lines.length, 4);
  // Delivered in an order of their own (a timer may fire before a rejection is reported).
  const line = (part: string) => report.lines.find((l) => l.includes(part));
  const error = line("nobody awaited this");
  includes(error, "unhandled rejection (a bug; the process goes on): Error: nobody awaited this");
  includes(error, "last_resort_child.ts"); // the stack is logged
  const driver = line("ECONNREFUSED");
  includes(driver, "stray driver rejection after a lost database connection");
  includes(driver, "(code ECONNREFUSED)");
  includes(line("a bare string"), "a bug; the process goes on): a bare string");
  includes(
    line("thrown from a timer"),
    "uncaught exception (a bug; the process goes on): TypeError: thrown from a timer",
  );
});

Deno.test("without the last resort the same unhandled rejection ends the process", async () => {
  const { code, stdout, stderr } = await runChild("removed");
  notStrictEqual(code, 0);
  strictEqual(stdout, "");
  includes(stderr, "nobody awaited this");
});
