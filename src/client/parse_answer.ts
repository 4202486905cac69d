/**
 * Parses a `<results>` answer into plain records, children in document order, attribute values
 * verbatim (`" 5"` stays `" 5"`), so that clients, tests and tools can compare answers exactly.
 */
import { parse } from "@lowlighter/xml";

/** One element of an answer: name, attributes, text, children in order. */
export interface AnswerElement {
  name: string;
  attributes: Record<string, string>;
  text: string;
  children: AnswerElement[];
}

interface Node {
  "~name": string;
  "~children"?: Node[];
  "#text"?: string;
  [key: string]: unknown;
}

const PREDEFINED_ENTITIES: Record<string, string> = {
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  amp: "&",
};

/** The parser decodes entities in attributes but leaves text-node children as written. */
function decodeText(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => PREDEFINED_ENTITIES[name]!);
}

function convert(node: Node): AnswerElement {
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
    text: decodeText(
      kids.filter((k) => k["~name"] === "~text").map((k) => k["#text"] ?? "").join("").trim(),
    ),
    children: kids.filter((k) => !k["~name"].startsWith("~")).map(convert),
  };
}

/** The children of `<results>`; throws if `xml` is not such a document. */
export function parseAnswer(xml: string): AnswerElement[] {
  const document = parse(xml, {
    flatten: { text: false, empty: false, attributes: false },
    revive: { trim: false, entities: true, booleans: false, numbers: false },
  }) as unknown as Node;
  const root = (document["~children"] ?? []).find((k) => !k["~name"].startsWith("~"));
  if (root === undefined || root["~name"] !== "results") {
    throw new Error(`Not a <results> document: ${xml.slice(0, 200)}`);
  }
  return convert(root).children;
}
