/**
 * Rewrites the options table of README.md from the option specs (src/option_specs.ts), between
 * the markers `<!-- options:start ... -->` and `<!-- options:end -->`:
 *
 *   deno task readme:options
 *
 * tests/readme_options_test.ts fails while the README's table differs from the specs.
 */
import { withOptionsTable } from "../src/options_text.ts";

const README = new URL("../README.md", import.meta.url);

const before = await Deno.readTextFile(README);
const after = withOptionsTable(before);
if (after === before) {
  console.log("README.md options table is up to date");
} else {
  await Deno.writeTextFile(README, after);
  console.log("README.md options table rewritten");
}
