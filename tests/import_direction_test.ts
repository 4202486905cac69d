/**
 * Imports between the folders of `src/` run one way only. The TCP server (`src/server`) and the
 * HTTP side (`src/http`) are two faces of one process: the server starts the HTTP side, so
 * `src/http` never imports `src/server`, and what both use (logging, metrics) lives in
 * `src/observability`, which imports neither face. The graph is read from the source files.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import {
  areaOf,
  findAreaCycle,
  type ImportEdge,
  importSpecifiers,
  readImportEdges,
} from "./support/import_graph.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const edges = await readImportEdges(ROOT, "src");

/** The imports from files under `fromArea` into any of `forbidden`, as `file -> file` lines. */
function crossing(fromArea: string, forbidden: readonly string[]): string[] {
  return edges
    .filter((edge) => areaOf(edge.from) === fromArea && forbidden.includes(areaOf(edge.to)))
    .map((edge: ImportEdge) => `${edge.from} -> ${edge.to}`);
}

Deno.test("importSpecifiers finds every import form and skips comments", () => {
  const source = `// import { x } from "../commented/out.ts";
/* export * from "../also/commented.ts"; */
import type { A } from "./a.ts";
import {
  b,
  c,
} from "../b.ts";
export { d } from "./d.ts";
export * from './e.ts';
import "./side_effect.ts";
import html from "./page.html" with { type: "text" };
const lazy = await import("../lazy.ts");
const text = "// not a comment"; import { f } from "./f.ts";
`;
  deepStrictEqual(importSpecifiers(source), [
    "./a.ts",
    "../b.ts",
    "./d.ts",
    "./e.ts",
    "./side_effect.ts",
    "./page.html",
    "../lazy.ts",
    "./f.ts",
  ]);
});

Deno.test("findAreaCycle reports folders that import each other, and nothing else", () => {
  const oneWay = [
    { from: "src/server/a.ts", to: "src/http/b.ts" },
    { from: "src/http/b.ts", to: "src/observability/c.ts" },
    { from: "src/server/a.ts", to: "src/observability/c.ts" },
  ];
  deepStrictEqual(findAreaCycle(oneWay), undefined);
  deepStrictEqual(
    findAreaCycle([...oneWay, { from: "src/observability/c.ts", to: "src/server/d.ts" }]),
    ["src/server", "src/http", "src/observability", "src/server"],
  );
});

Deno.test("the import graph of src is read from the files", () => {
  // Guards the two tests below against passing on an empty or wrong graph.
  ok(edges.length > 100, `only ${edges.length} imports found in src`);
  ok(edges.some((e) => e.from === "src/server/http_side.ts" && e.to === "src/http/http_server.ts"));
  ok(
    edges.some((e) => e.from === "src/http/http_server.ts" && areaOf(e.to) === "src/observability"),
  );
});

Deno.test("src/http does not import src/server", () => {
  deepStrictEqual(crossing("src/http", ["src/server"]), []);
});

Deno.test("src/observability imports neither src/server nor src/http", () => {
  deepStrictEqual(crossing("src/observability", ["src/server", "src/http"]), []);
});

Deno.test("imports between the folders of src run one way only", () => {
  deepStrictEqual(findAreaCycle(edges), undefined);
});
