/** Helpers for asserting on answers: ordered element records and a compact description. */
import { type AnswerElement, parseAnswer } from "../../src/client/parse_answer.ts";

export type Element = AnswerElement;

/** Parses an answer document; returns the children of `<results>`. Throws if it is not one. */
export const results: (xml: string) => Element[] = parseAnswer;

/** Compact form for assertions: `name{a=1,b=2}` with children in brackets. */
export function describe(element: Element): string {
  const attrs = Object.entries(element.attributes).map(([k, v]) => `${k}=${v}`).join(",");
  let out = `${element.name}{${attrs}}`;
  if (element.children.length > 0) {
    out += `[${element.children.map(describe).join(" ")}]`;
  }
  return out;
}
