/**
 * What every operation of a request shares: the echo of its attributes in the answer, and the
 * guard that turns a failure (not a refusal) into that operation's `<error>`: unavailable,
 * timed out, kept conflicting, or an internal error that is logged.
 */
import { AssertionError } from "../exchange/assert.ts";
import { errorCode, isRetryable, isStaleBalance, isTimeout, isUnavailable } from "../db/errors.ts";
import { CommittedAnswerError, OutcomeUnknownError } from "../db/transaction.ts";
import {
  errorAnswer,
  INTERNAL_ERROR,
  INTERNAL_ERROR_COMMITTED,
  KEPT_CONFLICTING,
  OUTCOME_UNKNOWN,
  type Pairs,
  SERVICE_UNAVAILABLE,
  TIMED_OUT,
} from "../xml/answers.ts";
import type { XmlElement } from "../xml/element.ts";
import type { Attributes } from "../xml/request.ts";

/** Per request: once the database is found unreachable, the rest is answered at once. */
export interface RequestState {
  unavailable: boolean;
}

/** Picks `names` from the request attributes, in that order, skipping absent ones (for echoes). */
export function echo(attributes: Attributes, names: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const name of names) {
    const value = attributes.get(name);
    if (value !== undefined) {
      pairs.push([name, value]);
    }
  }
  return pairs;
}

/** Runs one operation, turning database trouble into an `<error>` for that operation. */
export async function guard(
  state: RequestState,
  echoed: Pairs,
  operation: () => Promise<XmlElement>,
  log: (line: string) => void,
): Promise<XmlElement> {
  if (state.unavailable) {
    return errorAnswer(echoed, SERVICE_UNAVAILABLE);
  }
  try {
    return await operation();
  } catch (error) {
    return errorAnswer(echoed, failureMessage(error, state, log));
  }
}

/** The `<error>` text for an operation that failed with `error` (not a refusal). */
export function failureMessage(
  error: unknown,
  state: RequestState,
  log: (line: string) => void,
): string {
  if (isUnavailable(error)) {
    state.unavailable = true;
    return SERVICE_UNAVAILABLE;
  }
  if (error instanceof OutcomeUnknownError) {
    log(`operation in doubt: ${error.message}`);
    // The database stopped answering: the rest of the request is not tried.
    state.unavailable = true;
    return OUTCOME_UNKNOWN;
  }
  if (isTimeout(error)) {
    return TIMED_OUT;
  }
  if (isRetryable(error) || isStaleBalance(error)) {
    return KEPT_CONFLICTING;
  }
  if (error instanceof CommittedAnswerError) {
    log(
      `answer failed after COMMIT: ${
        error.cause instanceof Error ? error.cause.stack : error.cause
      }`,
    );
    return INTERNAL_ERROR_COMMITTED;
  }
  const kind = error instanceof AssertionError ? "invariant violated" : `error ${errorCode(error)}`;
  log(`operation failed (${kind}): ${(error as Error)?.stack ?? error}`);
  return INTERNAL_ERROR;
}
