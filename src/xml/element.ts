/** A minimal XML element model for answers, and its serialization with correct escaping. */

export interface XmlElement {
  readonly name: string;
  /** Attributes in the order they are written. */
  readonly attributes: ReadonlyArray<readonly [string, string]>;
  readonly children?: readonly XmlElement[];
  readonly text?: string;
}

/** Builds an element; a shorthand that keeps answer-building code readable. */
export function element(
  name: string,
  attributes: ReadonlyArray<readonly [string, string]>,
  content: { children?: readonly XmlElement[]; text?: string } = {},
): XmlElement {
  return { name, attributes, ...content };
}

/**
 * Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF)
 * become U+FFFD, so that an echoed hostile value can never make the answer ill-formed.
 */
const NOT_XML_CHAR =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ATTRIBUTE_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

export function escapeAttribute(value: string): string {
  return value.replace(NOT_XML_CHAR, "\uFFFD").replace(
    /[&<>"\t\n\r]/g,
    (c) => ATTRIBUTE_ESCAPES[c]!,
  );
}

export function escapeText(value: string): string {
  return value.replace(NOT_XML_CHAR, "\uFFFD").replace(/[&<>\r]/g, (c) => ATTRIBUTE_ESCAPES[c]!);
}

/** Serializes without whitespace between elements. Iterative: no recursion on answer depth. */
export function renderElement(root: XmlElement): string {
  const parts: string[] = [];
  // Work stack of elements to open, and closing tags to emit once their children are done.
  const stack: Array<XmlElement | string> = [root];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === "string") {
      parts.push(item);
      continue;
    }
    parts.push("<", item.name);
    for (const [key, value] of item.attributes) {
      parts.push(" ", key, '="', escapeAttribute(value), '"');
    }
    const children = item.children ?? [];
    if (children.length === 0 && (item.text === undefined || item.text === "")) {
      parts.push("/>");
      continue;
    }
    parts.push(">");
    if (item.text !== undefined) {
      parts.push(escapeText(item.text));
    }
    stack.push(`</${item.name}>`);
    for (let i = children.length - 1; i >= 0; i--) {
      stack.push(children[i]!);
    }
  }
  return parts.join("");
}

/** The answer document: `<results>` holding one element per operation. */
export function renderResults(results: readonly XmlElement[]): string {
  return renderElement({ name: "results", attributes: [], children: results }) + "\n";
}

/** A `<results>` holding a single `<error>`, for requests that could not be read at all. */
export function renderRequestError(message: string): string {
  return renderResults([element("error", [], { text: message })]);
}
