/** The README's options table is the one generated from the option specs. */
import { deepStrictEqual, ok } from "node:assert/strict";
import { optionsTable, readmeOptionsTable, tableCells } from "../src/options_text.ts";
import { OPTION } from "../src/option_specs.ts";

const README = new URL("../README.md", import.meta.url);

Deno.test("README's options table matches the option specs (deno task readme:options fixes it)", async () => {
  const table = readmeOptionsTable(await Deno.readTextFile(README));
  ok(table !== undefined, "README.md has the options markers");
  // Cells are compared trimmed, so that `deno fmt`'s padding never makes the test fail.
  deepStrictEqual(tableCells(table), tableCells(optionsTable()));
});

Deno.test("optionsTable shows each option's flag, variable, default, range and help", () => {
  const rows = tableCells(optionsTable());
  deepStrictEqual(rows[0], ["flag", "environment", "default", "range", "meaning"]);
  const port = rows.find((r) => r[0] === "`--port`");
  deepStrictEqual(port, ["`--port`", "`EXCHANGE_PORT`", "`12345`", "0–65535", OPTION.port.help]);
  const reset = rows.find((r) => r[0] === "`--reset`");
  deepStrictEqual(reset?.slice(0, 4), ["`--reset`", "`EXCHANGE_RESET`", "off", ""]);
  const url = rows.find((r) => r[0] === "`--database-url`");
  deepStrictEqual(url?.slice(2, 4), ["—", ""]);
});
