import type { Response } from "../framing/response_encoder_stream.ts";
import { renderRequestError, renderResults } from "../xml/element.ts";
import type { ParsedFrame } from "../xml/xml_request_stream.ts";
import type { ExchangeService } from "./exchange_service.ts";

/**
 * Executes each parsed request and emits its answer, strictly one request at a time and in
 * arrival order: a client that pipelines "create account" then "order" on a binary connection
 * relies on the first being committed before the second runs. An answer is emitted only after
 * all of its operations' transactions have finished (committed or rolled back).
 *
 * @example
 * ```ts
 * const answers = requests.pipeThrough(new RequestHandlerStream(service));
 * ```
 */
export class RequestHandlerStream extends TransformStream<ParsedFrame, Response> {
  readonly #state: { busy: boolean };

  constructor(service: ExchangeService, log: (line: string) => void = console.error) {
    const state = { busy: false };
    super({
      async transform(item, controller) {
        const closeAfter = item.framing === "text" || (item.kind === "invalid" && item.fatal);
        if (item.kind === "invalid") {
          controller.enqueue({
            framing: item.framing,
            xml: renderRequestError(item.message),
            closeAfter,
          });
          return;
        }
        state.busy = true;
        try {
          const results = await service.execute(item.request);
          controller.enqueue({ framing: item.framing, xml: renderResults(results), closeAfter });
        } catch (error) {
          // The service answers every operation-level failure itself; reaching here is a bug.
          log(`request failed: ${(error as Error)?.stack ?? error}`);
          controller.enqueue({
            framing: item.framing,
            xml: renderRequestError("Internal error: the request could not be completed"),
            closeAfter,
          });
        } finally {
          state.busy = false;
        }
      },
    });
    this.#state = state;
  }

  /** True while a request is being executed. */
  get busy(): boolean {
    return this.#state.busy;
  }
}
