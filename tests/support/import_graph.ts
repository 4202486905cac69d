/**
 * Test support: the import graph of `src/`, read from the source files themselves, so that a
 * test can hold the folders to one direction of dependency.
 *
 * Specifiers are found with a scanner rather than a type checker: every form this project writes
 * (`import … from`, `import type … from`, `export … from`, a side-effect `import "…"`, a dynamic
 * `import("…")`, with or without import attributes) ends in a quoted specifier right after
 * `from` or `import`. A specifier mentioned in a comment is skipped: comments are blanked first.
 */

/** One relative import: which file imports which, both as paths relative to the repository. */
export interface ImportEdge {
  from: string;
  to: string;
}

const SPECIFIER = /(?:\bfrom|\bimport)\s*\(?\s*(["'])([^"'\n]+)\1/g;

/** `source` with its comments replaced by spaces (string contents are kept as they are). */
function withoutComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '"' || c === "'" || c === "`") {
      // Copy the string literal whole, escapes included, so that `//` inside it stays. A quote
      // that only looks like one (in a regular expression) is ended by its line's end: quoted
      // strings cannot span lines, so a misread costs at most one line.
      let j = i + 1;
      while (j < source.length && source[j] !== c && (c === "`" || source[j] !== "\n")) {
        j += source[j] === "\\" ? 2 : 1;
      }
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Every module specifier `source` imports or re-exports, in order of appearance. */
export function importSpecifiers(source: string): string[] {
  return [...withoutComments(source).matchAll(SPECIFIER)].map((match) => match[2]!);
}

/** The TypeScript files under `dir` (relative to `root`), recursively, sorted. */
async function sourceFiles(root: string, dir: string): Promise<string[]> {
  const files: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    for await (const entry of Deno.readDir(`${root}/${current}`)) {
      const path = `${current}/${entry.name}`;
      if (entry.isDirectory) {
        pending.push(path);
      } else if (entry.isFile && /\.(ts|js)$/.test(entry.name)) {
        files.push(path);
      }
    }
  }
  return files.sort();
}

/** `spec` resolved against the file `from` (both relative to the repository), normalized. */
function resolveRelative(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of spec.split("/")) {
    if (part === "..") {
      parts.pop();
    } else if (part !== ".") {
      parts.push(part);
    }
  }
  return parts.join("/");
}

/** Every relative import between files under `dir` of the repository at `root`. */
export async function readImportEdges(root: string, dir: string): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for (const file of await sourceFiles(root, dir)) {
    const source = await Deno.readTextFile(`${root}/${file}`);
    for (const spec of importSpecifiers(source)) {
      if (spec.startsWith("./") || spec.startsWith("../")) {
        edges.push({ from: file, to: resolveRelative(file, spec) });
      }
    }
  }
  return edges;
}

/**
 * The part of `src/` a path belongs to: its folder (`src/http`), or the file itself for a file
 * directly in `src/` (`src/config.ts`).
 */
export function areaOf(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
}

/**
 * A cycle among areas, as the list of areas around it, or undefined when the imports between
 * areas run one way only. Iterative depth-first search (no recursion).
 */
export function findAreaCycle(edges: readonly ImportEdge[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const edge of edges) {
    const from = areaOf(edge.from);
    const to = areaOf(edge.to);
    if (from !== to) {
      const targets = next.get(from) ?? new Set<string>();
      targets.add(to);
      next.set(from, targets);
    }
  }
  const done = new Set<string>();
  for (const start of next.keys()) {
    if (done.has(start)) {
      continue;
    }
    const path: string[] = [start];
    const iterators = [next.get(start)!.values()];
    while (iterators.length > 0) {
      const step = iterators[iterators.length - 1]!.next();
      if (step.done) {
        done.add(path.pop()!);
        iterators.pop();
        continue;
      }
      const area = step.value;
      const onPath = path.indexOf(area);
      if (onPath !== -1) {
        return [...path.slice(onPath), area];
      }
      if (!done.has(area)) {
        path.push(area);
        iterators.push((next.get(area) ?? new Set<string>()).values());
      }
    }
  }
  return undefined;
}
