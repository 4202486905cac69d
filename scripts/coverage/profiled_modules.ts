/**
 * The modules that raw coverage profiles cover: `deno test --coverage=DIR` writes one V8
 * ScriptCoverage JSON file per module and process, `{ scriptId, url, functions }`.
 */

/** The distinct module URLs profiled in `dir`, sorted; files that are not profiles are skipped. */
export async function profiledModules(dir: string): Promise<string[]> {
  const urls = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) {
      continue;
    }
    let profile: unknown;
    try {
      profile = JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`));
    } catch {
      continue;
    }
    const url = (profile as { url?: unknown } | null)?.url;
    if (typeof url === "string") {
      urls.add(url);
    }
  }
  return [...urls].sort();
}
