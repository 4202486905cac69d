/**
 * Frame payload -> typed {@link Request}, with the strict parser of `@lowlighter/xml`
 * (the npm publication of `@libs/xml`) and the structural limits of the configuration.
 *
 * The parser keeps each element's children in document order in its non-enumerable
 * `~children` array; the enumerable keys group children by name and lose that order, so only
 * `~children` is used here.
 */
import { parse } from "@lowlighter/xml";
import type { Limits } from "../config.ts";
import type {
  Attributes,
  CreateChild,
  Request,
  SymbolAccount,
  TransactionChild,
  UnknownElement,
} from "./request.ts";

/** The request could not be read; the message goes into `<results><error>`. */
export class RequestSyntaxError extends SyntaxError {
  override name = "RequestSyntaxError";
}

/** The parser's node shape, as far as this module relies on it. */
interface XmlNode {
  readonly "~name": string;
  readonly "~children"?: readonly XmlNode[];
  readonly "#text"?: string;
  readonly [key: string]: unknown;
}

export type RequestLimits = Pick<
  Limits,
  "xmlDepthMax" | "childrenPerRequestMax" | "attributesPerElementMax"
>;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Parses one request payload. Throws {@link RequestSyntaxError} with a client-facing message. */
export function parseRequest(payload: Uint8Array, limits: RequestLimits): Request {
  if (payload.length === 0) {
    throw new RequestSyntaxError("Empty request: expected an XML document");
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    throw new RequestSyntaxError("Request is not valid UTF-8");
  }
  // Refused outright, never expanded: entity declarations are how billion-laughs attacks start.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new RequestSyntaxError("DOCTYPE and entity declarations are not allowed");
  }
  let document: XmlNode;
  try {
    document = parse(text, {
      flatten: { text: false, empty: false, attributes: false },
      revive: { trim: false, entities: true, booleans: false, numbers: false },
    }) as unknown as XmlNode;
  } catch (error) {
    if (error instanceof RangeError) {
      // The parser recursed past the call stack: nesting far beyond any limit.
      throw new RequestSyntaxError(`XML nesting exceeds the limit of ${limits.xmlDepthMax} levels`);
    }
    throw new RequestSyntaxError(`Malformed XML: ${(error as Error).message}`);
  }
  const root = elements(document)[0];
  if (root === undefined) {
    throw new RequestSyntaxError("Malformed XML: no root element");
  }
  checkRootClosed(text, root);
  checkStructure(root, limits);
  switch (root["~name"]) {
    case "create":
      return { kind: "create", children: elements(root).map(toCreateChild) };
    case "transactions":
      return {
        kind: "transactions",
        attributes: attributesOf(root),
        children: elements(root).map(toTransactionChild),
      };
    default:
      throw new RequestSyntaxError(
        `Unknown request <${root["~name"]}>: expected <create> or <transactions>`,
      );
  }
}

/**
 * The parser does not report elements left open at the end of the input (`<create><account/>`),
 * so check that the document ends with the root's end tag, or is a lone empty root element.
 * Any inner element left open leaves the root open too, so the root is all there is to check.
 */
function checkRootClosed(text: string, root: XmlNode): void {
  let tail = text.trimEnd();
  // Trailing comments and processing instructions may follow the root; each pass strips one.
  for (;;) {
    if (tail.endsWith("-->") && tail.lastIndexOf("<!--") >= 0) {
      tail = tail.slice(0, tail.lastIndexOf("<!--")).trimEnd();
    } else if (tail.endsWith("?>") && tail.lastIndexOf("<?") >= 0) {
      tail = tail.slice(0, tail.lastIndexOf("<?")).trimEnd();
    } else {
      break;
    }
  }
  const name = root["~name"];
  const closedByEndTag = new RegExp(`</${name.replace(/[^A-Za-z0-9_:.-]/g, "")}\\s*>$`).test(tail);
  const emptyRoot = (root["~children"] ?? []).length === 0 && tail.endsWith("/>");
  if (!closedByEndTag && !emptyRoot) {
    throw new RequestSyntaxError(`Malformed XML: element <${name}> is not closed`);
  }
}

/** Element children, in document order (text, comments and CDATA nodes are skipped). */
function elements(node: XmlNode): XmlNode[] {
  return (node["~children"] ?? []).filter((child) => !child["~name"].startsWith("~"));
}

function attributesOf(node: XmlNode): Attributes {
  const attributes = new Map<string, string>();
  for (const key of Object.keys(node)) {
    if (key.startsWith("@")) {
      attributes.set(key.slice(1), String(node[key]));
    }
  }
  return attributes;
}

function textOf(node: XmlNode): string {
  return (node["~children"] ?? [])
    .filter((child) => child["~name"] === "~text" || child["~name"] === "~cdata")
    .map((child) => child["#text"] ?? "")
    .join("")
    .trim();
}

/**
 * Enforces depth, attribute and operation-count limits with an explicit stack (no recursion),
 * before any operation runs: a request over a limit is refused whole.
 */
function checkStructure(root: XmlNode, limits: RequestLimits): void {
  const stack: Array<[XmlNode, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limits.xmlDepthMax) {
      throw new RequestSyntaxError(`XML nesting exceeds the limit of ${limits.xmlDepthMax} levels`);
    }
    const attributeCount = Object.keys(node).filter((key) => key.startsWith("@")).length;
    if (attributeCount > limits.attributesPerElementMax) {
      throw new RequestSyntaxError(
        `Element <${node["~name"]}> has ${attributeCount} attributes, over the limit of ` +
          `${limits.attributesPerElementMax}`,
      );
    }
    for (const child of elements(node)) {
      stack.push([child, depth + 1]);
    }
  }
  let operations = 0;
  for (const child of elements(root)) {
    operations += root["~name"] === "create" && child["~name"] === "symbol"
      ? Math.max(1, elements(child).length)
      : 1;
  }
  if (operations > limits.childrenPerRequestMax) {
    throw new RequestSyntaxError(
      `Request holds ${operations} operations, over the limit of ${limits.childrenPerRequestMax}`,
    );
  }
}

function unknown(node: XmlNode): UnknownElement {
  return { kind: "unknown", name: node["~name"], attributes: attributesOf(node) };
}

function toCreateChild(node: XmlNode): CreateChild {
  switch (node["~name"]) {
    case "account":
      return { kind: "account", attributes: attributesOf(node) };
    case "symbol":
      return {
        kind: "symbol",
        attributes: attributesOf(node),
        children: elements(node).map((child): SymbolAccount | UnknownElement =>
          child["~name"] === "account"
            ? { kind: "account", attributes: attributesOf(child), text: textOf(child) }
            : unknown(child)
        ),
      };
    default:
      return unknown(node);
  }
}

function toTransactionChild(node: XmlNode): TransactionChild | UnknownElement {
  const name = node["~name"];
  if (name === "order" || name === "query" || name === "cancel") {
    return { kind: name, attributes: attributesOf(node) };
  }
  return unknown(node);
}
