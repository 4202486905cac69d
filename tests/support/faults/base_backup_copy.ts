/**
 * Test support: the file copy step of PostgreSQL's low-level base backup (between
 * `pg_backup_start` and `pg_backup_stop`), for making a standby from a running primary without
 * `pg_basebackup`, which the npm package's PostgreSQL does not ship.
 *
 * The copy leaves out what the manual says a base backup should omit (section "Making a Base
 * Backup Using the Low Level API"): the pid and options files, the contents of `pg_wal` (the
 * standby streams the WAL it needs through a replication slot), of `pg_replslot` (a copied slot
 * would hold WAL on the standby forever) and of the directories a server empties at start.
 * Files that vanish while the copy runs are skipped: the running server removed them, and WAL
 * replay recreates whatever the backup needs.
 */
import { join } from "node:path";
import type { OsUser } from "../../../src/db/os_user.ts";

const SKIP_FILES = new Set(["postmaster.pid", "postmaster.opts", "pg_internal.init"]);
/** Top-level directories copied empty. */
const EMPTY_DIRS = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_stat_tmp",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_subtrans",
]);

/**
 * Copies the cluster `from` (running, inside a backup) to the new directory `to`, owned by
 * `owner` when given (as root, the cluster's user), directories with mode 0700.
 */
export async function copyForBaseBackup(
  from: string,
  to: string,
  owner: OsUser | undefined,
): Promise<void> {
  const chown = async (path: string) => {
    if (owner !== undefined) {
      await Deno.chown(path, owner.uid, owner.gid);
    }
  };
  const makeDir = async (path: string) => {
    await Deno.mkdir(path, { mode: 0o700 });
    await Deno.chmod(path, 0o700);
    await chown(path);
  };
  await makeDir(to);
  // An explicit stack instead of recursion: the tree is a few levels deep, but bounded loops
  // are the rule here.
  const pending = [{ from, to, top: true }];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for await (const entry of Deno.readDir(dir.from)) {
      const source = join(dir.from, entry.name);
      const target = join(dir.to, entry.name);
      if (entry.isDirectory) {
        await makeDir(target);
        if (!(dir.top && EMPTY_DIRS.has(entry.name))) {
          pending.push({ from: source, to: target, top: false });
        } else if (entry.name === "pg_wal") {
          await makeDir(join(target, "archive_status"));
        }
      } else if (!SKIP_FILES.has(entry.name) && !entry.name.startsWith("pgsql_tmp")) {
        try {
          await Deno.copyFile(source, target);
          await chown(target);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) {
            throw error;
          }
        }
      }
    }
  }
}
