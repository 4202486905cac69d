/** Pretty-prints an answer for people: one element per line, indented by depth. */
import { escapeAttribute, escapeText } from "../xml/element.ts";
import { type AnswerElement, parseAnswer } from "./parse_answer.ts";

/** `<results>` and its children, indented two spaces per level; iterative, no recursion. */
export function formatAnswer(xml: string): string {
  const lines = ["<results>"];
  const stack: Array<{ element: AnswerElement; depth: number } | string> = [];
  const children = parseAnswer(xml);
  for (let i = children.length - 1; i >= 0; i--) {
    stack.push({ element: children[i]!, depth: 1 });
  }
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === "string") {
      lines.push(item);
      continue;
    }
    const { element, depth } = item;
    const indent = "  ".repeat(depth);
    const attributes = Object.entries(element.attributes)
      .map(([key, value]) => ` ${key}="${escapeAttribute(value)}"`)
      .join("");
    const open = `${indent}<${element.name}${attributes}`;
    if (element.children.length === 0) {
      lines.push(
        element.text === "" ? `${open}/>` : `${open}>${escapeText(element.text)}</${element.name}>`,
      );
      continue;
    }
    lines.push(`${open}>`);
    stack.push(`${indent}</${element.name}>`);
    for (let i = element.children.length - 1; i >= 0; i--) {
      stack.push({ element: element.children[i]!, depth: depth + 1 });
    }
  }
  lines.push("</results>");
  return lines.join("\n");
}
