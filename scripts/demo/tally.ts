/**
 * What the simulated market did, per minute and in all: orders, cancels, fills, and every
 * answer that was not what the simulator expected. The simulator is built so that refusals and
 * errors stay at zero (see market_maker.ts and taker.ts); the first messages of each kind are
 * kept so that a non-zero count explains itself.
 */

/** Distinct messages kept per kind, for the explanation. */
const MESSAGES_KEPT_MAX = 5;

interface Counts {
  steps: number;
  orders: number;
  cancels: number;
  takerFills: number;
  /** `<error>` answers with a business reason (insufficient funds, nothing open to cancel). */
  refusals: number;
  /** `<error>` answers of the server's own trouble, lost connections, timeouts, bad answers. */
  errors: number;
}

function zero(): Counts {
  return { steps: 0, orders: 0, cancels: 0, takerFills: 0, refusals: 0, errors: 0 };
}

/** Messages of the server's own failures, as opposed to refusals of a request. */
const SERVER_TROUBLE = /^(Internal error|Service unavailable|Outcome unknown)/;

/** Counters of the simulator, one window per minute plus totals. */
export class Tally {
  #minute = zero();
  readonly #total = zero();
  /** Requests that failed after the stop was asked for: the server may be stopping too. */
  #cutOff = 0;
  readonly #messages = new Map<string, number>();

  count(kind: "steps" | "orders" | "cancels" | "takerFills", n = 1): void {
    this.#minute[kind] += n;
    this.#total[kind] += n;
  }

  /** An `<error>` element in an answer: a refusal, or an error if the server was in trouble. */
  errorAnswer(message: string): void {
    this.#problem(SERVER_TROUBLE.test(message) ? "errors" : "refusals", message);
  }

  /** A request that got no usable answer (connection lost, timeout, malformed answer). */
  failure(message: string): void {
    this.#problem("errors", message);
  }

  /** A request that failed while everything was stopping: expected, counted apart. */
  cutOff(): void {
    this.#cutOff++;
  }

  get totals(): Readonly<Counts> {
    return this.#total;
  }

  /** The line for the minute that just ended; starts the next one. */
  endMinute(minute: number): string {
    const line = `minute ${minute}: ${describe(this.#minute)}`;
    this.#minute = zero();
    return line;
  }

  /** The line for the whole run, with the first messages of any refusal or error. */
  summary(): string {
    const lines = [`in all: ${describe(this.#total)}`];
    if (this.#cutOff > 0) {
      lines.push(`  ${this.#cutOff} requests cut off by the shutdown (not counted as errors)`);
    }
    for (const [message, times] of this.#messages) {
      lines.push(`  ${times}x ${message}`);
    }
    return lines.join("\n");
  }

  #problem(kind: "refusals" | "errors", message: string): void {
    this.#minute[kind]++;
    this.#total[kind]++;
    const times = this.#messages.get(message);
    if (times !== undefined) {
      this.#messages.set(message, times + 1);
    } else if (this.#messages.size < MESSAGES_KEPT_MAX) {
      this.#messages.set(message, 1);
    }
  }
}

function describe(counts: Counts): string {
  return `${counts.steps} steps, ${counts.orders} orders, ${counts.cancels} cancels, ` +
    `${counts.takerFills} taker fills, ${counts.refusals} refusals, ${counts.errors} errors`;
}
