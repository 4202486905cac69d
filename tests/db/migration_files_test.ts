import { deepStrictEqual } from "node:assert/strict";
import { MIGRATION_FILES } from "../../src/db/migration_files.ts";

Deno.test("MIGRATION_FILES bundles every file of migrations/, unchanged", async () => {
  const dir = new URL("../../migrations/", import.meta.url);
  const onDisk = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) {
      onDisk.set(entry.name, await Deno.readTextFile(new URL(entry.name, dir)));
    }
  }
  deepStrictEqual([...MIGRATION_FILES.keys()].sort(), [...onDisk.keys()].sort());
  for (const [name, sql] of onDisk) {
    deepStrictEqual(MIGRATION_FILES.get(name), sql, name);
  }
});
