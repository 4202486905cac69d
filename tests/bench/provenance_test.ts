import { ok, strictEqual } from "node:assert/strict";
import { provenanceLine, readProvenance } from "../../scripts/bench/provenance.ts";
import { REPO_ROOT } from "../../scripts/bench/server_process.ts";

Deno.test("readProvenance names the checked-out commit and whether the tree differs", async () => {
  const p = await readProvenance(REPO_ROOT);
  ok(/^[0-9a-f]{40}$/.test(p.commit), p.commit);
  strictEqual(p.dirty, p.changes.length > 0);
});

Deno.test("readProvenance outside a repository says it does not know", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = await readProvenance(dir);
    strictEqual(p.commit, "unknown");
    strictEqual(p.dirty, undefined);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("provenanceLine states a clean and a dirty tree", () => {
  strictEqual(
    provenanceLine({ commit: "abc", dirty: false, changes: [] }),
    "Commit `abc` (clean working tree).",
  );
  ok(provenanceLine({ commit: "abc", dirty: true, changes: [" M a.ts"] }).includes("**dirty**: 1"));
});
