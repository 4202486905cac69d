/**
 * A whole-number command-line option of a script (`--clients 64`), checked against its range:
 * the scripts read their flags with `node:util` parseArgs, which leaves values as text.
 */
export function wholeNumberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) {
    return fallback;
  }
  const parsed = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(parsed >= min && parsed <= max)) {
    throw new RangeError(
      `Option --${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );
  }
  return parsed;
}
