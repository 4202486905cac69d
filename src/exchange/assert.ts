/** Thrown when an invariant the code relies on does not hold: a bug, never a client error. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Stops the operation loudly if `condition` is false. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}
