/**
 * Parses a `<results>` answer into plain records, children in document order, attribute values
 * verbatim (`" 5"` stays `" 5"`), so that clients, tests and tools can compare answers exactly.
 * Uses the same strict SAX parser as the server (`saxes`).
 */
import { SaxesParser, type SaxesTagPlain } from "saxes";

/** One element of an answer: name, attributes, text, children in order. */
export interface AnswerElement {
  name: string;
  attributes: Record<string, string>;
  text: string;
  children: AnswerElement[];
}

/** The children of `<results>`; throws if `xml` is not such a document. */
export function parseAnswer(xml: string): AnswerElement[] {
  const parser = new SaxesParser({ xmlns: false });
  const open: AnswerElement[] = [];
  let root: AnswerElement | undefined;
  parser.on("opentag", (tag: SaxesTagPlain) => {
    const element: AnswerElement = {
      name: tag.name,
      attributes: { ...tag.attributes },
      text: "",
      children: [],
    };
    const parent = open.at(-1);
    if (parent === undefined) {
      root = element;
    } else {
      parent.children.push(element);
    }
    open.push(element);
  });
  parser.on("closetag", () => {
    const element = open.pop()!;
    element.text = element.text.trim();
  });
  parser.on("text", (text: string) => {
    const current = open.at(-1);
    if (current !== undefined) {
      current.text += text;
    }
  });
  parser.write(xml).close();
  if (root === undefined || root.name !== "results") {
    throw new Error(`Not a <results> document: ${xml.slice(0, 200)}`);
  }
  return root.children;
}
