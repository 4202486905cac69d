/**
 * The operating-system user the embedded PostgreSQL runs as when this process is root
 * (PostgreSQL refuses to run as root), and what that user can reach in the file system.
 */
import { dirname, resolve } from "node:path";

/** The system user PostgreSQL runs as when the server runs as root. */
export const OS_USER = "postgres";

/** A uid and gid that child processes run as. */
export interface OsUser {
  uid: number;
  gid: number;
}

async function commandText(
  binary: string,
  args: string[],
): Promise<{ code: number; text: string }> {
  const output = await new Deno.Command(binary, { args, stdout: "piped", stderr: "piped" })
    .output();
  return { code: output.code, text: new TextDecoder().decode(output.stdout).trim() };
}

/** Returns the uid and gid of the `postgres` system user, creating the user if needed. */
export async function ensureOsUser(): Promise<OsUser> {
  let uid = await commandText("id", ["-u", OS_USER]);
  if (uid.code !== 0) {
    const created = await commandText("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      OS_USER,
    ]);
    if (created.code !== 0) {
      throw new Error(`Cannot create the system user ${OS_USER} that PostgreSQL must run as`);
    }
    uid = await commandText("id", ["-u", OS_USER]);
  }
  const gid = await commandText("id", ["-g", OS_USER]);
  return { uid: Number(uid.text), gid: Number(gid.text) };
}

/**
 * True if `user` can search (enter) `path`, and so every directory on the way to it. Asked of
 * the kernel by running `test -x` as that user, exactly as PostgreSQL will run, so ACLs and
 * group membership count as they really do.
 */
export async function canEnter(user: OsUser, path: string): Promise<boolean> {
  const output = await new Deno.Command("test", {
    args: ["-x", resolve(path)],
    uid: user.uid,
    gid: user.gid,
    cwd: "/",
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).output();
  return output.code === 0;
}

/** The first directory on the way to `path` (from `/`) that `user` cannot enter, if any. */
export async function firstClosedDirectory(
  user: OsUser,
  path: string,
): Promise<string | undefined> {
  const chain: string[] = [];
  for (let dir = resolve(path);; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) {
      break;
    }
  }
  for (const dir of chain) {
    if (!(await canEnter(user, dir))) {
      return dir;
    }
  }
  return undefined;
}

/** `path (mode 0700, owner uid 0)`, for messages that explain why a directory is closed. */
export function describeDirectory(path: string): string {
  try {
    const info = Deno.statSync(path);
    const mode = ((info.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
    return `${path} (mode ${mode}, owner uid ${info.uid})`;
  } catch {
    return path;
  }
}
