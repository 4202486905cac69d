/**
 * The charting library the page draws with: TradingView's lightweight-charts (Apache-2.0),
 * served by this server from the installed npm package, so that the page needs no CDN, no
 * build step and no outside network.
 *
 * The package's standalone production bundle is one classic script that defines
 * `window.LightweightCharts`; its `exports` map does not name that file, so it cannot be
 * imported as text. It is found next to the package's `package.json`, which the exports map
 * does name: importing that JSON keeps the package in the module graph, so Deno installs it
 * (`nodeModulesDir: "auto"` on a clean clone) and `deno compile` embeds it, and
 * `import.meta.resolve` gives its place on disk whichever npm layout Deno uses.
 */
import chartPackage from "lightweight-charts/package.json" with { type: "json" };

/** The bundle, relative to the package's root. */
const BUNDLE_PATH = "dist/lightweight-charts.standalone.production.js";

/** The version deno.json pins (read from the installed package itself). */
export const CHART_LIBRARY_VERSION: string = chartPackage.version;

/** Where the bundle is on disk. */
export const CHART_LIBRARY_URL: URL = new URL(
  BUNDLE_PATH,
  import.meta.resolve("lightweight-charts/package.json"),
);

/** Reads the bundle once; a missing file is a broken install, said in one sentence. */
async function readBundle(): Promise<string> {
  try {
    return await Deno.readTextFile(CHART_LIBRARY_URL);
  } catch (error) {
    throw new Error(
      `Cannot read the page's chart library at ${CHART_LIBRARY_URL.pathname} ` +
        `(lightweight-charts ${CHART_LIBRARY_VERSION}; reinstall with \`deno install\`): ` +
        `${(error as Error).message}`,
    );
  }
}

/** The bundle's text, read when the HTTP side is loaded (about 200 kB, kept in memory). */
export const CHART_LIBRARY: string = await readBundle();
