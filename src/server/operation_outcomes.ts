/**
 * Which operation each answer element belongs to, and how it ended, for
 * `exchange_operations_total`: derived from the request and its answer alone, so the exchange
 * service needs no metrics code.
 */
import type { XmlElement } from "../xml/element.ts";
import type { Request } from "../xml/request.ts";
import type { OperationKind, OperationOutcome } from "../observability/metrics.ts";

/**
 * The kind of operation behind each answer element, in answer order; `undefined` where the
 * element answers no operation (an unknown element, an empty `<transactions>`).
 */
export function answerKinds(request: Request): Array<OperationKind | undefined> {
  const kinds: Array<OperationKind | undefined> = [];
  if (request.kind === "transactions") {
    if (request.children.length === 0) {
      return [undefined];
    }
    for (const child of request.children) {
      kinds.push(child.kind === "unknown" ? undefined : child.kind);
    }
    return kinds;
  }
  for (const child of request.children) {
    if (child.kind === "account") {
      kinds.push("create_account");
    } else if (child.kind === "unknown") {
      kinds.push(undefined);
    } else if (child.children.length === 0) {
      kinds.push("create_symbol");
    } else {
      // One answer per <account> child of the <symbol>, each a mint.
      for (const account of child.children) {
        kinds.push(account.kind === "unknown" ? undefined : "create_symbol");
      }
    }
  }
  return kinds;
}

/** Error texts that mean the server or its database failed, not that the client was refused. */
const SERVER_FAULT_PREFIXES = ["Internal error", "Service unavailable"];

/** `ok` unless the answer is an `<error>`; an error is ours or a refusal by its text. */
export function answerOutcome(answer: XmlElement): OperationOutcome {
  if (answer.name !== "error") {
    return "ok";
  }
  const text = answer.text ?? "";
  return SERVER_FAULT_PREFIXES.some((prefix) => text.startsWith(prefix)) ? "error" : "refused";
}

/** Counts of outcomes in one answer, for the access log. */
export interface OutcomeCounts {
  ok: number;
  refused: number;
  error: number;
}

/** Calls `record` once per operation answered, and returns the counts. */
export function recordOutcomes(
  request: Request,
  answers: readonly XmlElement[],
  record: (kind: OperationKind, outcome: OperationOutcome) => void,
): OutcomeCounts {
  const counts: OutcomeCounts = { ok: 0, refused: 0, error: 0 };
  const kinds = answerKinds(request);
  const count = Math.min(kinds.length, answers.length);
  for (let i = 0; i < count; i++) {
    const kind = kinds[i];
    if (kind === undefined) {
      continue;
    }
    const outcome = answerOutcome(answers[i]!);
    counts[outcome]++;
    record(kind, outcome);
  }
  return counts;
}
