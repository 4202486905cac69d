/**
 * Where the embedded PostgreSQL's binaries, cluster and socket go when the server runs as root
 * and the `postgres` user cannot reach them, and the layouts that are refused with one sentence.
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import {
  ensureSocketDirectory,
  locateCluster,
  prepareClusterLocation,
} from "../../src/db/cluster_location.ts";
import { ClusterSetupError } from "../../src/db/cluster_setup_error.ts";
import { canEnter, ensureOsUser } from "../../src/db/os_user.ts";
import { binariesFor, PACKAGED_BINARIES } from "../../src/db/postgres_binaries.ts";

const asRoot = Deno.uid() !== 0;

/** A root-owned 0755 directory to stage into, standing in for /var/lib/exchange-postgres. */
async function stagingRoot(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "exchange-staging-" });
  await Deno.chmod(dir, 0o755);
  return dir;
}

Deno.test({
  name:
    "binariesFor stages a root-owned copy the postgres user can run when node_modules is closed",
  ignore: asRoot,
  async fn() {
    const user = await ensureOsUser();
    const privateDir = await Deno.makeTempDir({ prefix: "exchange-private-" });
    const root = await stagingRoot();
    try {
      // The package as a private checkout holds it: native/ and package.json behind a 0700 dir.
      const nativeDir = join(PACKAGED_BINARIES.initdb, "..", "..");
      await Deno.symlink(nativeDir, join(privateDir, "native"));
      await Deno.copyFile(join(nativeDir, "..", "package.json"), join(privateDir, "package.json"));
      const packaged = {
        initdb: join(privateDir, "native", "bin", "initdb"),
        pg_ctl: join(privateDir, "native", "bin", "pg_ctl"),
      };
      ok(!(await canEnter(user, join(privateDir, "native", "bin"))));
      const logs: string[] = [];
      const staged = await binariesFor(user, {
        stagingRoot: root,
        packaged,
        log: (line) => logs.push(line),
      });
      ok(staged.initdb.startsWith(join(root, "runtime")), staged.initdb);
      strictEqual(logs.length, 1);
      ok(logs[0]!.includes(`cannot enter ${privateDir} (mode 0700`), logs[0]);
      const target = join(staged.initdb, "..", "..");
      const info = await Deno.stat(target);
      strictEqual(info.uid, 0);
      strictEqual(info.mode! & 0o777, 0o755);
      const version = await new Deno.Command(staged.initdb, {
        args: ["--version"],
        uid: user.uid,
        gid: user.gid,
        cwd: "/",
        stdout: "piped",
      }).output();
      strictEqual(version.code, 0);
      ok(new TextDecoder().decode(version.stdout).includes("18."));

      // A second server finds the copy and says nothing.
      const again = await binariesFor(user, {
        stagingRoot: root,
        packaged,
        log: (l) => logs.push(l),
      });
      strictEqual(again.initdb, staged.initdb);
      strictEqual(logs.length, 1);
    } finally {
      await Deno.remove(privateDir, { recursive: true });
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "binariesFor refuses a staging directory that others can write",
  ignore: asRoot,
  async fn() {
    const user = await ensureOsUser();
    const privateDir = await Deno.makeTempDir({ prefix: "exchange-private-" });
    const root = await stagingRoot();
    try {
      await Deno.mkdir(join(root, "runtime"));
      await Deno.chmod(join(root, "runtime"), 0o777);
      const packaged = {
        initdb: join(privateDir, "native", "bin", "initdb"),
        pg_ctl: join(privateDir, "native", "bin", "pg_ctl"),
      };
      await rejects(
        binariesFor(user, { stagingRoot: root, packaged }),
        (error) =>
          error instanceof ClusterSetupError &&
          error.message.startsWith(`Refusing to use ${join(root, "runtime")}`),
      );
    } finally {
      await Deno.remove(privateDir, { recursive: true });
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "prepareClusterLocation keeps a reachable data directory and moves an unreachable one",
  ignore: asRoot,
  async fn() {
    const user = await ensureOsUser();
    const open = await Deno.makeTempDir({ prefix: "exchange-open-" });
    const privateDir = await Deno.makeTempDir({ prefix: "exchange-private-" });
    const root = await stagingRoot();
    try {
      // /tmp/exchange-open-X/data: the postgres user can enter /tmp/exchange-open-X? It is 0700
      // but it is the data directory's parent that counts, and /tmp is open.
      const reachable = await prepareClusterLocation(open, user, { stagingRoot: root });
      strictEqual(reachable.home, open);
      ok(!reachable.relocated);
      strictEqual((await Deno.stat(open)).uid, user.uid, "the data directory is handed over");

      const dataDir = join(privateDir, "data");
      const logs: string[] = [];
      const moved = await prepareClusterLocation(dataDir, user, {
        stagingRoot: root,
        log: (line) => logs.push(line),
      });
      ok(moved.relocated);
      ok(moved.home.startsWith(join(root, "clusters")), moved.home);
      strictEqual((await Deno.stat(moved.home)).uid, user.uid);
      strictEqual((await Deno.stat(moved.home)).mode! & 0o777, 0o700);
      ok(logs[0]!.startsWith(`PostgreSQL cluster for ${dataDir} lives in ${moved.home}`), logs[0]);
      strictEqual(locateCluster(dataDir).clusterDir, join(moved.home, "pg"));

      // The recorded cluster has gone: refuse rather than start a new, empty one silently.
      await rejects(
        prepareClusterLocation(dataDir, user, { stagingRoot: root }),
        (error) => error instanceof ClusterSetupError && /is missing from/.test(error.message),
      );

      // An existing cluster inside a closed directory: refuse, never hide it behind a new one.
      const existing = join(privateDir, "old");
      await Deno.mkdir(join(existing, "pg"), { recursive: true });
      await Deno.writeTextFile(join(existing, "pg", "PG_VERSION"), "18\n");
      await rejects(
        prepareClusterLocation(existing, user, { stagingRoot: root }),
        (error) =>
          error instanceof ClusterSetupError &&
          error.message.startsWith(`The postgres user cannot enter ${privateDir} (mode 0700`),
      );
    } finally {
      await Deno.remove(open, { recursive: true });
      await Deno.remove(privateDir, { recursive: true });
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("ensureSocketDirectory creates the fallback socket directory or refuses a foreign one", async () => {
  const base = await Deno.makeTempDir({ prefix: "exchange-long-" });
  // A data directory whose socket path would not fit in 107 bytes.
  const dataDir = join(base, "d".repeat(100));
  const location = locateCluster(dataDir);
  try {
    ok(location.socketDir.startsWith("/tmp/exchange-pg-"), location.socketDir);
    await Deno.remove(location.socketDir, { recursive: true }).catch(() => {});
    // Someone else made it first (here: open to everyone).
    await Deno.mkdir(location.socketDir);
    await Deno.chmod(location.socketDir, 0o777);
    await rejects(
      ensureSocketDirectory(location, undefined),
      (error) =>
        error instanceof ClusterSetupError &&
        error.message.startsWith(`Refusing the socket directory ${location.socketDir}`),
    );
    await Deno.remove(location.socketDir);
    await ensureSocketDirectory(location, undefined);
    const info = await Deno.lstat(location.socketDir);
    strictEqual(info.mode! & 0o777, 0o700);
    strictEqual(info.uid, Deno.uid());
    await ensureSocketDirectory(location, undefined); // Ours: accepted again.
  } finally {
    await Deno.remove(location.socketDir, { recursive: true }).catch(() => {});
    await Deno.remove(base, { recursive: true });
  }
});
