/**
 * The page's files, imported as text so that they are part of the module graph: `deno compile`
 * bundles them. The chart library is the one file read from disk, once, when this module loads
 * (see chart_library.ts for why).
 */
import { CHART_LIBRARY } from "./chart_library.ts";
import charts from "./charts.js" with { type: "text" };
import css from "./page.css" with { type: "text" };
import html from "./index.html" with { type: "text" };
import js from "./page.js" with { type: "text" };

/** A file the HTTP side serves as is. */
export interface StaticFile {
  body: string;
  type: string;
}

/** Path -> file. */
export const STATIC_FILES: ReadonlyMap<string, StaticFile> = new Map([
  ["/", { body: html, type: "text/html; charset=utf-8" }],
  ["/index.html", { body: html, type: "text/html; charset=utf-8" }],
  ["/page.css", { body: css, type: "text/css; charset=utf-8" }],
  ["/page.js", { body: js, type: "text/javascript; charset=utf-8" }],
  ["/charts.js", { body: charts, type: "text/javascript; charset=utf-8" }],
  ["/lightweight-charts.js", { body: CHART_LIBRARY, type: "text/javascript; charset=utf-8" }],
]);
