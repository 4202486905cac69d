/**
 * The simulator's one connection to the exchange: binary framing over TCP through the project's
 * client (src/client), every answer parsed, and every `<error>` in it counted in the
 * {@link Tally}. The simulator sends one request at a time, so one connection is enough; a lost
 * connection is counted and replaced at the next request.
 */
import { BinaryClient } from "../../src/client/exchange_client.ts";
import { type AnswerElement, parseAnswer } from "../../src/client/parse_answer.ts";
import type { Tally } from "./tally.ts";

/** Longest wait for connecting or for one answer; a local server answers in milliseconds. */
const ANSWER_TIMEOUT_MS = 10_000;

/** A request that got no usable answer (already counted). */
export class LinkFailure extends Error {
  override name = "LinkFailure";
}

export class SimLink {
  readonly #port: number;
  readonly #tally: Tally;
  readonly #stopping: AbortSignal;
  #client: BinaryClient | undefined;

  /** After `stopping` aborts, failures are counted as cut off by the shutdown, not as errors. */
  constructor(port: number, tally: Tally, stopping: AbortSignal) {
    this.#port = port;
    this.#tally = tally;
    this.#stopping = stopping;
  }

  /**
   * Sends one request; resolves with the children of its `<results>`, having counted each
   * `<error>` among them. Throws {@link LinkFailure} when no answer came.
   */
  async send(xml: string): Promise<AnswerElement[]> {
    let answer: AnswerElement[];
    try {
      this.#client ??= await BinaryClient.connect(this.#port, "127.0.0.1", {
        timeoutMs: ANSWER_TIMEOUT_MS,
      });
      answer = parseAnswer(await this.#client.request(xml));
    } catch (error) {
      this.close();
      const message = `no answer: ${(error as Error).message}`;
      if (this.#stopping.aborted) {
        this.#tally.cutOff();
      } else {
        this.#tally.failure(message);
      }
      throw new LinkFailure(message);
    }
    for (const element of answer) {
      if (element.name === "error") {
        if (this.#stopping.aborted) {
          this.#tally.cutOff();
        } else {
          this.#tally.errorAnswer(element.text);
        }
      }
    }
    return answer;
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}
