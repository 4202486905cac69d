/**
 * PostgreSQL array literals, written here instead of by the driver.
 *
 * postgres.js serializes a JavaScript array only after it has fetched the server's array types
 * (`fetch_types`, one query on every new connection). That query runs from an async function
 * nobody awaits (postgres.js 3.4.7 and 3.4.9, `fetchArrayTypes` in connection.js): a backend
 * terminated while it runs became an unhandled rejection that ended the server process. Pools
 * here open connections with `fetch_types: false`, and every array parameter is sent as one text
 * literal that the statement casts (`${pgArray(ids)}::bigint[]`), which PostgreSQL parses exactly
 * as it would the driver's own serialization.
 */

/**
 * The array literal holding `values` in order: `{"a","b"}`. Every element is quoted, so that
 * empty strings, commas, braces, spaces and the word NULL stay text; `"` and `\` are escaped.
 *
 * @example
 * ```ts
 * import { pgArray } from "./pg_array.ts";
 * if (pgArray(["a", 'b"c', 7n]) !== '{"a","b\\"c","7"}') throw new Error("wrong literal");
 * ```
 */
export function pgArray(values: readonly (string | bigint | number)[]): string {
  // One string grown in place, and escaping only where needed: a deep sweep's apply call sends a
  // dozen arrays of 60,000 elements, and mapping each element to a new quoted string first took
  // 2-2.6 times as long (104-213 ms against 40-98 ms for twelve such arrays, measured here), all
  // of it on the event loop every other book's answers wait for.
  let literal = "{";
  for (let i = 0; i < values.length; i++) {
    const text = String(values[i]);
    const escaped = text.includes("\\") || text.includes('"')
      ? text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')
      : text;
    literal += i === 0 ? `"${escaped}"` : `,"${escaped}"`;
  }
  return literal + "}";
}

/**
 * The elements of a one-dimensional array of numbers as PostgreSQL writes it in text (`{1,2}`),
 * for results read without the driver's array types (ids, never quoted).
 */
export function parseNumberArray(text: string): string[] {
  if (!text.startsWith("{") || !text.endsWith("}")) {
    throw new SyntaxError(`Cannot parse array: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const inner = text.slice(1, -1);
  return inner === "" ? [] : inner.split(",");
}
