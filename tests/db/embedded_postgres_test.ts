import { ok, strictEqual } from "node:assert/strict";
import { buildConfig } from "../../src/config.ts";
import { openPool } from "../../src/db/database.ts";
import { EmbeddedPostgres } from "../../src/db/embedded_postgres.ts";
import { TEST_CLUSTER_SETTINGS } from "../support/harness.ts";

Deno.test("EmbeddedPostgres in a deep directory puts its socket under /tmp; a second start adopts it", async () => {
  const parent = await Deno.makeTempDir({ prefix: "exchange-embedded-" });
  await Deno.chmod(parent, 0o755);
  // The socket path inside this cluster would exceed the 107 bytes Linux allows.
  const dataDir = `${parent}/${"deep-".repeat(20)}`;
  const pg = await EmbeddedPostgres.start({ dataDir, settings: TEST_CLUSTER_SETTINGS });
  try {
    ok(pg.location.socketDir.startsWith("/tmp/exchange-pg-"), pg.location.socketDir);
    strictEqual(pg.adoptedRunningServer, false);
    const sql = openPool(
      pg.target("postgres"),
      { ...buildConfig(new Map(), 2).database, poolSize: 1 },
      "embedded-test",
    );
    try {
      const [row] = await sql`SHOW unix_socket_directories`;
      strictEqual(row!.unix_socket_directories, pg.location.socketDir);
    } finally {
      await sql.end();
    }
    // Another process starting on the same directory reuses the running cluster, same socket.
    const again = await EmbeddedPostgres.start({ dataDir, settings: TEST_CLUSTER_SETTINGS });
    strictEqual(again.adoptedRunningServer, true);
    strictEqual(again.location.socketDir, pg.location.socketDir);
    await pg.stop();
    ok(!(await pg.isRunning()));
  } finally {
    await pg.stop();
    await Deno.remove(parent, { recursive: true });
    await Deno.remove(pg.location.socketDir, { recursive: true }).catch(() => {});
  }
});
