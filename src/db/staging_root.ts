/**
 * Where the server, running as root, puts what the `postgres` user must reach but cannot reach
 * in the checkout: copies of the PostgreSQL binaries, and clusters of data directories that sit
 * inside private (0700) directories.
 *
 * The directories are root's: only root can create anything under /var/lib, so nobody else can
 * prepare them in advance, and they are checked (a real directory, owned by root, writable by
 * nobody else) before they are trusted.
 */
import { ClusterSetupError } from "./cluster_setup_error.ts";

/** The root of everything staged for the `postgres` user. */
export const STAGING_ROOT = "/var/lib/exchange-postgres";

/**
 * Creates `path` (its parent must exist) as a root-owned directory that others may enter and
 * read but not change (0755), or checks that the existing one is exactly that.
 */
export async function ensureRootOwnedDirectory(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { mode: 0o755 });
    // The process umask may have removed bits; the mode is a decision, not an accident.
    await Deno.chmod(path, 0o755);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw new ClusterSetupError(
        `Cannot create ${path} for the PostgreSQL files the postgres user must reach ` +
          `(${(error as Error).message}); run from a directory that user can enter, or create ` +
          `${path} owned by root with mode 0755`,
      );
    }
  }
  assertRootOwned(path);
}

/** Throws unless `path` is a real directory owned by root that only root can change. */
export function assertRootOwned(path: string): void {
  const info = Deno.lstatSync(path);
  const mode = (info.mode ?? 0) & 0o7777;
  if (!info.isDirectory || info.isSymlink || info.uid !== 0 || (mode & 0o022) !== 0) {
    throw new ClusterSetupError(
      `Refusing to use ${path}: it must be a directory owned by root and writable only by root ` +
        `(found owner uid ${info.uid}, mode ${mode.toString(8)}); remove it and start again`,
    );
  }
}
