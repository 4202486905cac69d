/**
 * pgArray's literals, read back by a real PostgreSQL: every element arrives as the text it was,
 * whatever characters it holds, and in order. The literal is built by hand (pg_array.ts says
 * why), so PostgreSQL's own array parser is the judge here, not a string comparison.
 */
import { deepStrictEqual } from "node:assert/strict";
import { pgArray } from "../../src/db/pg_array.ts";
import { freshDatabase } from "../support/harness.ts";

Deno.test("PostgreSQL reads every element of a pgArray literal back as the text it was", async () => {
  const db = await freshDatabase();
  try {
    const awkward = [
      "",
      "NULL",
      "null",
      "a,b",
      "{braces}",
      " spaced ",
      'quote"inside',
      "back\\slash",
      '\\"both',
      "trailing\\",
      "é ü 株",
      "100.25",
    ];
    const [row] = await db.sql`SELECT ${pgArray(awkward)}::text[] AS texts,
                                      cardinality(${pgArray(awkward)}::text[]) AS count,
                                      array_position(${pgArray(awkward)}::text[], NULL) AS null_at`;
    deepStrictEqual(row!.count, awkward.length);
    deepStrictEqual(row!.null_at, null, "no element became SQL NULL");
    // Read the elements one by one, as PostgreSQL holds them, not through the driver's arrays.
    const elements = await db.sql`SELECT e FROM unnest(${pgArray(awkward)}::text[])
                                    WITH ORDINALITY AS t(e, n) ORDER BY n`;
    deepStrictEqual(elements.map((r) => r.e), awkward);

    const numbers = [0n, -7n, 9007199254740993n, 42];
    const [sums] = await db.sql`SELECT array_to_string(${pgArray(numbers)}::bigint[], ' ') AS list,
                                       cardinality(${pgArray([])}::bigint[]) AS empty`;
    deepStrictEqual(sums!.list, "0 -7 9007199254740993 42");
    deepStrictEqual(sums!.empty, 0);
  } finally {
    await db.close();
  }
});
