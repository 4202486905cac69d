/**
 * Reads the parts of docs/PROTOCOL.md that tests hold against the running server: sections
 * between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, their Markdown tables and code blocks,
 * and the message templates with `{placeholder}`s.
 */

/** The protocol document, as committed. */
export const PROTOCOL_DOC_PATH = new URL("../../docs/PROTOCOL.md", import.meta.url).pathname;

export function readProtocolDoc(): string {
  return Deno.readTextFileSync(PROTOCOL_DOC_PATH);
}

/** The text between `<!-- name:begin -->` and `<!-- name:end -->`; throws if absent or twice. */
export function docSection(doc: string, name: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const start = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  if (start < 0 || stop < start || doc.indexOf(begin, start + 1) >= 0) {
    throw new Error(`docs/PROTOCOL.md must hold exactly one section ${begin} ... ${end}`);
  }
  return doc.slice(start + begin.length, stop);
}

/** The body rows of the Markdown table in `text`, as trimmed cells (header and rule dropped). */
export function tableRows(text: string): string[][] {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line.startsWith("|"));
  return lines.slice(2).map((line) =>
    line.slice(1, line.endsWith("|") ? -1 : undefined).split("|").map((cell) => cell.trim())
  );
}

/** The text inside backticks in a table cell: `` `x` `` -> `x`; throws if the cell has none. */
export function codeIn(cell: string): string {
  const match = /^`(.*)`$/.exec(cell);
  if (match === null) {
    throw new Error(`Expected a cell in backticks, got ${JSON.stringify(cell)}`);
  }
  return match[1]!;
}

/** The contents of the fenced code blocks in `text`, in order. */
export function codeBlocks(text: string): string[] {
  return [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/**
 * A message template as a regular expression: `{name}` stands for one or more characters,
 * everything else is literal.
 */
export function templatePattern(template: string): RegExp {
  const parts = template.split(/\{[a-z_]+\}/);
  const literal = parts.map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${literal.join(".+")}$`, "s");
}

/** `hexdump -C` of `bytes`: offset, 16 bytes in two groups of 8, the printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex: string[] = [];
    for (let i = 0; i < 16; i++) {
      hex.push(i < row.length ? row[i]!.toString(16).padStart(2, "0") : "  ");
    }
    const ascii = [...row].map((b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")
      .join("");
    lines.push(
      `${offset.toString(16).padStart(8, "0")}  ${hex.slice(0, 8).join(" ")}  ${
        hex.slice(8).join(" ")
      }  |${ascii}|`,
    );
  }
  lines.push(bytes.length.toString(16).padStart(8, "0"));
  return lines.join("\n") + "\n";
}

/** The bytes of a `hexdump -C` listing (the inverse of {@link hexDump}). */
export function bytesOfDump(dump: string): Uint8Array {
  const bytes: number[] = [];
  for (const line of dump.split("\n")) {
    const match = /^[0-9a-f]{8} {2}(.*?)\s*\|/.exec(line);
    if (match === null) {
      continue;
    }
    for (const token of match[1]!.split(/\s+/)) {
      if (token !== "") {
        bytes.push(parseInt(token, 16));
      }
    }
  }
  return new Uint8Array(bytes);
}
