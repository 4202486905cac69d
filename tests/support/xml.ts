/** Helpers for asserting on answers: parse `<results>` into plain, ordered element records. */
import { parse } from "@lowlighter/xml";

export interface Element {
  name: string;
  attributes: Record<string, string>;
  text: string;
  children: Element[];
}

interface Node {
  "~name": string;
  "~children"?: Node[];
  "#text"?: string;
  [key: string]: unknown;
}

/** The parser leaves entities in text-node children as written; decode the predefined ones. */
function unescape(text: string): string {
  return text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, name: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[name]!,
  );
}

function convert(node: Node): Element {
  const attributes: Record<string, string> = {};
  for (const key of Object.keys(node)) {
    if (key.startsWith("@")) {
      attributes[key.slice(1)] = String(node[key]);
    }
  }
  const kids = node["~children"] ?? [];
  return {
    name: node["~name"],
    attributes,
    text: unescape(
      kids.filter((k) => k["~name"] === "~text").map((k) => k["#text"] ?? "").join("").trim(),
    ),
    children: kids.filter((k) => !k["~name"].startsWith("~")).map(convert),
  };
}

/** Parses an answer document; returns the children of `<results>`. Throws if it is not one. */
export function results(xml: string): Element[] {
  const document = parse(xml, {
    flatten: { text: false, empty: false, attributes: false },
  }) as unknown as Node;
  const root = (document["~children"] ?? []).find((k) => !k["~name"].startsWith("~"));
  if (root === undefined || root["~name"] !== "results") {
    throw new Error(`Not a <results> document: ${xml}`);
  }
  return convert(root).children;
}

/** Compact form for assertions: `name{a=1,b=2}` with children in brackets, text after a colon. */
export function describe(element: Element): string {
  const attrs = Object.entries(element.attributes).map(([k, v]) => `${k}=${v}`).join(",");
  let out = `${element.name}{${attrs}}`;
  if (element.children.length > 0) {
    out += `[${element.children.map(describe).join(" ")}]`;
  }
  return out;
}
