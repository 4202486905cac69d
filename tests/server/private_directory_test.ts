/**
 * A checkout inside a private (0700) directory, run as root: the embedded PostgreSQL runs as
 * the `postgres` user, which cannot enter it. The real server (`main.ts` of a copy of the
 * project made inside such a directory, with its own node_modules) must start anyway, say
 * where its cluster lives, serve, and stop cleanly.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { sendText } from "../../src/client/exchange_client.ts";
import { locateCluster } from "../../src/db/cluster_location.ts";
import { runningPostmasterPid } from "../../src/db/embedded_postgres.ts";
import { startServerProcess } from "../support/server_process.ts";
import { describe, results } from "../support/xml.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** What `main.ts` needs of the project: a fresh clone holds these and no node_modules. */
const PROJECT_FILES = ["deno.json", "deno.lock", "main.ts", "src", "migrations"];

Deno.test({
  name:
    "server started from a checkout inside a 0700 directory serves and says where its cluster lives",
  ignore: Deno.uid() !== 0, // Only root runs PostgreSQL as another user.
  async fn() {
    const privateDir = await Deno.makeTempDir({ prefix: "exchange-private-" });
    strictEqual((await Deno.stat(privateDir)).mode! & 0o777, 0o700);
    const project = join(privateDir, "p");
    await Deno.mkdir(project);
    for (const name of PROJECT_FILES) {
      const copy = await new Deno.Command("cp", { args: ["-a", join(ROOT, name), project] })
        .output();
      strictEqual(copy.code, 0, `copy ${name}`);
    }
    const dataDir = join(project, ".data");
    try {
      const server = await startServerProcess(["--data-dir", ".data"], {
        cwd: project,
        main: join(project, "main.ts"),
      });
      const where = locateCluster(dataDir);
      ok(where.relocated, "the cluster is not inside the private directory");
      ok(
        server.stderr().includes(`PostgreSQL cluster for .data lives in ${where.home}`),
        server.stderr(),
      );
      deepStrictEqual(
        results(await sendText(server.port, `<create><account id="1" balance="2"/></create>`))
          .map(describe),
        ["created{id=1}"],
      );
      server.kill("SIGTERM");
      strictEqual((await server.status).code, 0, server.stderr());
      ok(runningPostmasterPid(dataDir) === undefined, "PostgreSQL stopped with the server");

      // The next start finds the cluster through the data directory and keeps its data.
      const again = await startServerProcess(["--data-dir", ".data"], {
        cwd: project,
        main: join(project, "main.ts"),
      });
      strictEqual(
        results(await sendText(again.port, `<create><account id="1" balance="2"/></create>`))[0]!
          .text,
        "Account already exists",
      );
      again.kill("SIGTERM");
      strictEqual((await again.status).code, 0, again.stderr());
    } finally {
      const where = locateCluster(dataDir);
      const pid = runningPostmasterPid(dataDir);
      if (pid !== undefined) {
        Deno.kill(pid, "SIGQUIT");
      }
      if (where.relocated) {
        await Deno.remove(where.home, { recursive: true }).catch(() => {});
      }
      await Deno.remove(privateDir, { recursive: true });
    }
  },
});
