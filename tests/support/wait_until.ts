/**
 * Polls `condition` every 10 ms until it holds; fails with `what` after 1,000 polls. A condition
 * that never comes is a hang the test reports by name, not a timing it asserts.
 */
export async function waitUntil(
  what: string,
  condition: () => Promise<boolean> | boolean,
): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}
