/**
 * The page's chart library is the npm package deno.json pins, to the exact version, and what the
 * server serves is that package's standalone bundle (it defines `window.LightweightCharts`).
 */
import { match, ok, strictEqual } from "node:assert/strict";
import {
  CHART_LIBRARY,
  CHART_LIBRARY_URL,
  CHART_LIBRARY_VERSION,
} from "../../src/http/page/chart_library.ts";

Deno.test("lightweight-charts is pinned to one exact version in deno.json", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { imports: Record<string, string> };
  const pinned = config.imports["lightweight-charts"];
  // A range (^, ~, x) would let a clean clone draw with a version nobody tested.
  match(pinned ?? "", /^npm:lightweight-charts@\d+\.\d+\.\d+$/);
  strictEqual(pinned, `npm:lightweight-charts@${CHART_LIBRARY_VERSION}`);
});

Deno.test("CHART_LIBRARY is the installed package's standalone production bundle", () => {
  ok(CHART_LIBRARY_URL.pathname.endsWith("/dist/lightweight-charts.standalone.production.js"));
  ok(CHART_LIBRARY.includes(`Lightweight Charts™ v${CHART_LIBRARY_VERSION}`));
  ok(CHART_LIBRARY.includes("window.LightweightCharts="));
  // Production, not the 800 kB development build.
  ok(CHART_LIBRARY.length < 400_000, `${CHART_LIBRARY.length} bytes`);
});
