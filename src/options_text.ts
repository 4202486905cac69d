/**
 * The options table (src/option_specs.ts) as text: the `--help` lines and the README's Markdown
 * table. Both are written from the spec, never by hand.
 */
import { OPTIONS, type OptionSpec } from "./option_specs.ts";

/** Where the README's generated options table begins and ends. */
export const README_OPTIONS_START = "<!-- options:start (deno task readme:options) -->";
export const README_OPTIONS_END = "<!-- options:end -->";

const HELP_NAME_WIDTH = 36;
const HELP_LINE_WIDTH = 100;

/** The default as the help and the README show it. */
export function defaultText(option: OptionSpec): string {
  if (option.kind === "boolean") {
    return "off";
  }
  if (option.default === undefined) {
    return "—";
  }
  return String(option.default);
}

/** The accepted values, or "" for free text and switches. */
export function rangeText(option: OptionSpec): string {
  if (option.kind === "integer") {
    const cores = option.maxAtLeastCores === true ? ", or up to the number of cores" : "";
    return `${option.min}–${option.max}${cores}`;
  }
  if (option.kind === "choice") {
    return option.choices.join(", ");
  }
  return "";
}

/** Joins words into lines of at most `width` characters (a longer word stays whole). */
function wrap(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The help text for every option: the flag, then its meaning, default, range and variable. */
export function optionsHelp(): string {
  return OPTIONS.map((o) => {
    const value = o.kind === "boolean" ? "" : o.kind === "integer" ? " N" : " VALUE";
    const facts = o.default === undefined ? [] : [`default ${defaultText(o)}`];
    const range = rangeText(o);
    if (range !== "") {
      facts.push(range);
    }
    const meaning = facts.length === 0 ? o.help : `${o.help} (${facts.join("; ")})`;
    const words = [...meaning.split(" "), `[env ${o.env}]`];
    const [first, ...rest] = wrap(words, HELP_LINE_WIDTH - HELP_NAME_WIDTH);
    const name = `  --${o.flag}${value}`;
    // A name too long for its column gets the meaning on the next line.
    const head = name.length < HELP_NAME_WIDTH
      ? [name.padEnd(HELP_NAME_WIDTH) + first]
      : [name, " ".repeat(HELP_NAME_WIDTH) + first];
    return [...head, ...rest.map((l) => " ".repeat(HELP_NAME_WIDTH) + l)].join("\n");
  }).join("\n");
}

/** The README's options table (Markdown, columns padded as `deno fmt` pads them). */
export function optionsTable(): string {
  const header = ["flag", "environment", "default", "range", "meaning"];
  const rows = OPTIONS.map((o) => [
    `\`--${o.flag}\``,
    `\`${o.env}\``,
    o.kind === "boolean" || o.default === undefined ? defaultText(o) : `\`${defaultText(o)}\``,
    rangeText(o),
    o.help.replaceAll("|", "\\|"),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(header),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.map(line),
  ].join("\n");
}

/** The Markdown table's cells, whitespace-trimmed: two tables match if these do. */
export function tableCells(table: string): string[][] {
  return table.trim().split("\n").map((row) =>
    row.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim())
  );
}

/**
 * `readme` with the text between the options markers replaced by the generated table; throws if
 * the markers are missing.
 */
export function withOptionsTable(readme: string): string {
  const start = readme.indexOf(README_OPTIONS_START);
  const end = readme.indexOf(README_OPTIONS_END);
  if (start < 0 || end < start) {
    throw new Error(
      `README has no options markers: ${README_OPTIONS_START} ... ${README_OPTIONS_END}`,
    );
  }
  return readme.slice(0, start + README_OPTIONS_START.length) + "\n\n" + optionsTable() +
    "\n\n" + readme.slice(end);
}

/** The table between the README's options markers, or undefined without markers. */
export function readmeOptionsTable(readme: string): string | undefined {
  const start = readme.indexOf(README_OPTIONS_START);
  const end = readme.indexOf(README_OPTIONS_END);
  if (start < 0 || end < start) {
    return undefined;
  }
  return readme.slice(start + README_OPTIONS_START.length, end);
}
