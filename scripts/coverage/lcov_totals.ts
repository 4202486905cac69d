/**
 * Sums an lcov file (as `deno coverage --lcov` writes it) into totals of lines, branches and
 * functions, and compares them with a floor. Pure: text in, numbers out.
 */

/** Covered out of found, for one measure. */
export interface Count {
  hit: number;
  found: number;
}

/** The three measures `deno coverage` reports. */
export interface CoverageTotals {
  lines: Count;
  branches: Count;
  functions: Count;
}

/** Lowest acceptable percentage of each measure. */
export type CoverageFloor = Readonly<Record<keyof CoverageTotals, number>>;

const SUMMARY_FIELDS: Record<string, [keyof CoverageTotals, keyof Count]> = {
  LH: ["lines", "hit"],
  LF: ["lines", "found"],
  BRH: ["branches", "hit"],
  BRF: ["branches", "found"],
  FNH: ["functions", "hit"],
  FNF: ["functions", "found"],
};

/**
 * Totals over every file record of `lcov`, from each record's summary fields (LH/LF, BRH/BRF,
 * FNH/FNF). Throws on a summary field that is not a whole number.
 */
export function lcovTotals(lcov: string): CoverageTotals {
  const totals: CoverageTotals = {
    lines: { hit: 0, found: 0 },
    branches: { hit: 0, found: 0 },
    functions: { hit: 0, found: 0 },
  };
  for (const line of lcov.split("\n")) {
    const colon = line.indexOf(":");
    const field = SUMMARY_FIELDS[line.slice(0, colon)];
    if (colon < 0 || field === undefined) {
      continue;
    }
    const value = line.slice(colon + 1).trim();
    if (!/^[0-9]+$/.test(value)) {
      throw new SyntaxError(`Cannot read lcov: ${JSON.stringify(line)} is not a count`);
    }
    const [measure, part] = field;
    totals[measure][part] += Number(value);
  }
  return totals;
}

/** The source files `lcov` has a record for (its `SF:` lines), in order. */
export function lcovFiles(lcov: string): string[] {
  return lcov.split("\n").filter((line) => line.startsWith("SF:")).map((line) =>
    line.slice("SF:".length).trim()
  );
}

/**
 * Why an lcov file cannot be judged against a floor, or undefined if it can: with no file
 * (the include pattern matched nothing) or no line to cover, every percentage would read 100.
 */
export function emptyCoverageProblem(lcov: string): string | undefined {
  if (lcovFiles(lcov).length === 0) {
    return "the lcov report has no file";
  }
  if (lcovTotals(lcov).lines.found === 0) {
    return "the lcov report's files have no line to cover";
  }
  return undefined;
}

/** The percentage covered, 100 when there is nothing to cover. */
export function percent(count: Count): number {
  return count.found === 0 ? 100 : (100 * count.hit) / count.found;
}

/** The measures below the floor, in the order lines, branches, functions. */
export function belowFloor(totals: CoverageTotals, floor: CoverageFloor): (keyof CoverageTotals)[] {
  const measures = ["lines", "branches", "functions"] as const;
  return measures.filter((measure) => percent(totals[measure]) < floor[measure]);
}

/**
 * One line for logs: `lines 93.2% (1234/1324), branches 91.3% (…), functions 95.9% (…)`.
 * Percentages are truncated, not rounded, so that 89.99% never prints as 90.0%.
 */
export function formatTotals(totals: CoverageTotals): string {
  const measures = ["lines", "branches", "functions"] as const;
  return measures.map((measure) => {
    const count = totals[measure];
    const shown = (Math.floor(percent(count) * 10) / 10).toFixed(1);
    return `${measure} ${shown}% (${count.hit}/${count.found})`;
  }).join(", ");
}
