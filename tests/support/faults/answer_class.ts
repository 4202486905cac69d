/**
 * What an operation's answer says happened, in the server's vocabulary (src/xml/answers.ts,
 * docs/PROTOCOL.md). The classes are what the checks rely on: "refused", "unavailable",
 * "timed_out" and "conflict" promise that nothing happened; "in_doubt" promises nothing;
 * "failure" is an answer a correct server never gives to this workload.
 */

/** The class of one operation's answer. */
export type AnswerClass =
  | "acknowledged"
  | "refused"
  | "unavailable"
  | "timed_out"
  | "conflict"
  | "in_doubt"
  | "failure";

/** Classes whose answer means the operation did not take effect. */
export const NOTHING_HAPPENED: ReadonlySet<AnswerClass> = new Set([
  "refused",
  "unavailable",
  "timed_out",
  "conflict",
]);

/**
 * Error texts by class, matched from the start of the message. `Outcome unknown:` is the answer
 * issue 18 adds for a COMMIT whose fate the server could not learn in time.
 */
const ERROR_CLASSES: ReadonlyArray<readonly [RegExp, AnswerClass]> = [
  [/^Outcome unknown:/, "in_doubt"],
  [/^Service unavailable\b/, "unavailable"],
  [/\btimed out\b/i, "timed_out"],
  [/kept conflicting/i, "conflict"],
  [/^Insufficient (funds|shares)\b/, "refused"],
  [/^Order has nothing open to cancel/, "refused"],
];

/** The class of an `<error>` text; anything unknown (internal errors, ...) is a failure. */
export function classifyError(text: string): AnswerClass {
  for (const [pattern, answerClass] of ERROR_CLASSES) {
    if (pattern.test(text)) {
      return answerClass;
    }
  }
  return "failure";
}
