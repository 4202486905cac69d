/**
 * The page's files, imported as text so that they are part of the module graph: `deno compile`
 * bundles them and nothing is read from disk at run time.
 */
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
]);
