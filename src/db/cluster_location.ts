/**
 * Where the embedded cluster of a data directory lives, and the one function every tool asks
 * (the server, audit, bench, lifecycle tests): {@link locateCluster}.
 *
 * Normally the cluster is `<data dir>/pg`, its log `<data dir>/postgres.log`. When the server
 * runs as root and the `postgres` user cannot enter the data directory's parent (a checkout
 * inside a 0700 directory), the cluster lives in a directory of its own under
 * `/var/lib/exchange-postgres/clusters/`, owned by `postgres` with mode 0700, and the data
 * directory records where in the file `cluster-location`.
 */
import { basename, dirname, join, resolve } from "node:path";
import { ClusterSetupError } from "./cluster_setup_error.ts";
import { canEnter, describeDirectory, firstClosedDirectory, type OsUser } from "./os_user.ts";
import { ensureRootOwnedDirectory, STAGING_ROOT } from "./staging_root.ts";
import { pathExists } from "./path_exists.ts";

/** The file in a data directory that names the directory its cluster was moved to. */
export const LOCATION_FILE = "cluster-location";
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
const SOCKET_PATH_BYTES_MAX = 107;
/** The port number in the socket's file name; the cluster listens on no TCP port. */
export const SOCKET_PORT = 5432;

/** Where a data directory's cluster, log and socket are. */
export interface ClusterLocation {
  /** The directory holding the cluster and its log: the data directory or the recorded one. */
  home: string;
  /** The PostgreSQL cluster (`PGDATA`). */
  clusterDir: string;
  logFile: string;
  /** Directory of the Unix socket (`psql -h` takes it as the host). */
  socketDir: string;
  /** True if the cluster lives outside the data directory (recorded in LOCATION_FILE). */
  relocated: boolean;
}

/** Where the cluster of `dataDir` lives (reads the data directory's location file, if any). */
export function locateCluster(dataDir: string): ClusterLocation {
  const absolute = resolve(dataDir);
  const recorded = readLocationFile(absolute);
  const home = recorded ?? absolute;
  const clusterDir = join(home, "pg");
  return {
    home,
    clusterDir,
    logFile: join(home, "postgres.log"),
    socketDir: socketDirFor(clusterDir),
    relocated: recorded !== undefined,
  };
}

/** True once `initdb` has made the cluster at `location` (its `PG_VERSION` file exists). */
export function clusterInitialized(location: ClusterLocation): Promise<boolean> {
  return pathExists(join(location.clusterDir, "PG_VERSION"));
}

/**
 * Creates the data directory and decides where its cluster lives, so that `user` (the cluster's
 * OS user when this process is root) can reach it: the data directory itself when that user
 * can enter its parent, else a new directory under `<stagingRoot>/clusters/`. Logs one line
 * saying where the cluster lives whenever it is not in the data directory.
 */
export async function prepareClusterLocation(
  dataDir: string,
  user: OsUser | undefined,
  options: { stagingRoot?: string; log?: (line: string) => void } = {},
): Promise<ClusterLocation> {
  const absolute = resolve(dataDir);
  await Deno.mkdir(absolute, { recursive: true, mode: 0o700 });
  const recorded = readLocationFile(absolute);
  const locationFile = join(absolute, LOCATION_FILE);
  if (recorded !== undefined) {
    await checkRecordedHome(recorded, locationFile, user);
    options.log?.(`PostgreSQL cluster for ${dataDir} lives in ${recorded} (see ${locationFile})`);
    return locateCluster(dataDir);
  }
  if (user === undefined || await canEnter(user, dirname(absolute))) {
    if (user !== undefined) {
      await Deno.chown(absolute, user.uid, user.gid);
    }
    return locateCluster(dataDir);
  }
  const closed = describeDirectory(await firstClosedDirectory(user, absolute) ?? absolute);
  if (await pathExists(join(absolute, "pg", "PG_VERSION"))) {
    throw new ClusterSetupError(
      `The postgres user cannot enter ${closed} on the way to the existing cluster in ` +
        `${join(absolute, "pg")}; allow it (chmod o+x on that directory) or move the data ` +
        `directory somewhere it can reach`,
    );
  }
  const root = options.stagingRoot ?? STAGING_ROOT;
  const clusters = join(root, "clusters");
  await ensureRootOwnedDirectory(root);
  await ensureRootOwnedDirectory(clusters);
  const label = basename(dirname(absolute)).replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 24);
  const home = await Deno.makeTempDir({ dir: clusters, prefix: `${label}-` });
  await Deno.chown(home, user.uid, user.gid);
  await Deno.writeTextFile(locationFile, `${home}\n`);
  options.log?.(
    `PostgreSQL cluster for ${dataDir} lives in ${home} (recorded in ${locationFile}): ` +
      `the postgres user cannot enter ${closed}`,
  );
  return locateCluster(dataDir);
}

/**
 * Creates the fallback socket directory (used when the cluster's path is too long for a
 * socket) so that the server knows it owns it: a new directory, or an existing one that is
 * the cluster user's, mode 0700 and no symlink. Anything else, someone else may have made.
 */
export async function ensureSocketDirectory(
  location: ClusterLocation,
  user: OsUser | undefined,
): Promise<void> {
  if (location.socketDir === location.clusterDir) {
    return;
  }
  const uid = user?.uid ?? Deno.uid();
  try {
    await Deno.mkdir(location.socketDir, { mode: 0o700 });
    await Deno.chmod(location.socketDir, 0o700);
    if (user !== undefined) {
      await Deno.chown(location.socketDir, user.uid, user.gid);
    }
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw error;
    }
  }
  const info = await Deno.lstat(location.socketDir);
  const mode = (info.mode ?? 0) & 0o7777;
  if (!info.isDirectory || info.isSymlink || info.uid !== uid || mode !== 0o700) {
    throw new ClusterSetupError(
      `Refusing the socket directory ${location.socketDir}: it should be the cluster user's ` +
        `(uid ${uid}) with mode 0700 but is owner uid ${info.uid}, mode ${mode.toString(8)}; ` +
        `remove it, or use a shorter --data-dir`,
    );
  }
}

async function checkRecordedHome(
  home: string,
  locationFile: string,
  user: OsUser | undefined,
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(join(home, "pg", "PG_VERSION"));
  } catch {
    throw new ClusterSetupError(
      `The cluster recorded in ${locationFile} is missing from ${home}; remove ${locationFile} ` +
        `to start a new, empty cluster`,
    );
  }
  const owner = (await Deno.lstat(home)).uid;
  if (!info.isFile || owner !== (user?.uid ?? Deno.uid())) {
    throw new ClusterSetupError(
      `The directory recorded in ${locationFile} (${home}) is not a cluster of the ` +
        `PostgreSQL user; correct or remove ${locationFile}`,
    );
  }
}

function readLocationFile(dataDir: string): string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(dataDir, LOCATION_FILE));
  } catch {
    return undefined;
  }
  const home = text.trim();
  return home.startsWith("/") ? home : undefined;
}

/** The socket lives in the cluster directory unless that path is too long for a socket. */
function socketDirFor(clusterDir: string): string {
  const socketFile = join(clusterDir, `.s.PGSQL.${SOCKET_PORT}`);
  if (new TextEncoder().encode(socketFile).length <= SOCKET_PATH_BYTES_MAX) {
    return clusterDir;
  }
  // A short, stable directory derived from the cluster path (ensureSocketDirectory makes it).
  let hash = 0;
  for (const char of clusterDir) {
    hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  }
  return `/tmp/exchange-pg-${hash.toString(16)}`;
}
