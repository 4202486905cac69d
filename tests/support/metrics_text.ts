/** Test support: reading samples out of a Prometheus text exposition. */

/** The value of one sample in a Prometheus exposition, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return Number(sampleText(text, name, labels));
}

/** The value of one sample as written, "0" when absent. */
export function sampleText(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): string {
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) {
      continue;
    }
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return match[3]!;
    }
  }
  return "0";
}
