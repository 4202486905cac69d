/**
 * Every operation the traders sent and what they were told, kept so that the checks can compare
 * it with the database afterwards. Orders carry a unique limit-price tag, so an order can be
 * found in the database without its id: that is how in-doubt and failed answers are judged.
 */
import type { AnswerClass } from "./answer_class.ts";

/** An order as sent: (account, sym, amount, limit) is unique in a run (the limit is tagged). */
export interface OrderRecord {
  account: string;
  sym: string;
  amount: string;
  limit: string;
  answer: AnswerClass;
  /** The id of an acknowledged order. */
  id?: string;
  /** The error text, if the answer was one (for the report). */
  text?: string;
}

/** A cancel as sent and what it was told. */
export interface CancelRecord {
  account: string;
  orderId: string;
  answer: AnswerClass;
  text?: string;
}

/** Counters for the report. */
export interface LedgerCounts {
  operations: number;
  requests: number;
  acknowledged: number;
  refused: number;
  unavailable: number;
  timedOut: number;
  conflict: number;
  inDoubt: number;
  /** Requests that got no answer: connection closed or reset, or 15 s passed. */
  unanswered: number;
  failures: number;
  /** Connection attempts refused (the server not listening); nothing was sent. */
  connectFailures: number;
}

/** Failure texts kept for the report. */
const FAILURES_KEPT_MAX = 20;

/** The record of one kind's run. */
export class Ledger {
  readonly orders: OrderRecord[] = [];
  readonly cancels: CancelRecord[] = [];
  readonly counts: LedgerCounts = {
    operations: 0,
    requests: 0,
    acknowledged: 0,
    refused: 0,
    unavailable: 0,
    timedOut: 0,
    conflict: 0,
    inDoubt: 0,
    unanswered: 0,
    failures: 0,
    connectFailures: 0,
  };
  /** The first few failure and unanswered texts, for the report. */
  readonly failureTexts: string[] = [];
  /** Request latencies above this are kept for the report. */
  maxLatencyMs = 0;
  #tag = 0;

  /** A new, never used tag number (the limit's fractional digits). */
  nextTag(): number {
    return ++this.#tag;
  }

  /** Counts one operation's answer. */
  count(answer: AnswerClass, text?: string): void {
    this.counts.operations++;
    switch (answer) {
      case "acknowledged":
        this.counts.acknowledged++;
        break;
      case "refused":
        this.counts.refused++;
        break;
      case "unavailable":
        this.counts.unavailable++;
        break;
      case "timed_out":
        this.counts.timedOut++;
        break;
      case "conflict":
        this.counts.conflict++;
        break;
      case "in_doubt":
        this.counts.inDoubt++;
        break;
      case "failure":
        this.counts.failures++;
        this.note(`failure answer: ${text ?? "(no text)"}`);
        break;
    }
  }

  /** One request answered (or not) after `latencyMs`. */
  request(latencyMs: number, unanswered?: string): void {
    this.counts.requests++;
    this.maxLatencyMs = Math.max(this.maxLatencyMs, latencyMs);
    if (unanswered !== undefined) {
      this.counts.unanswered++;
      this.note(`unanswered after ${Math.round(latencyMs)} ms: ${unanswered}`);
    }
  }

  /** Keeps a text for the report (the first few only). */
  note(text: string): void {
    if (this.failureTexts.length < FAILURES_KEPT_MAX) {
      this.failureTexts.push(text);
    }
  }
}
