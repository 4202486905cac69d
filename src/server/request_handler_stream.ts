import type { Response } from "../framing/response_encoder_stream.ts";
import { renderRequestError, renderResults } from "../xml/element.ts";
import { REQUEST_FAILED } from "../xml/answers.ts";
import type { ParsedFrame } from "../xml/xml_request_stream.ts";
import type { ExchangeService } from "./exchange_service.ts";
import { SubmissionOrder } from "./order_engine.ts";
import type { RequestSequence } from "./transactions.ts";
import type { Request } from "../xml/request.ts";
import { Logger, withConnection } from "../observability/logger.ts";
import { type ExchangeMetrics, metrics as processMetrics } from "../observability/metrics.ts";
import { type OutcomeCounts, recordOutcomes } from "./operation_outcomes.ts";

/** Who the handler reports to: the log, the metrics, and the connection it serves. */
export interface RequestHandlerOptions {
  logger?: Logger;
  metrics?: ExchangeMetrics;
  /** The connection's id in log lines. */
  connectionId?: string;
  /** Told when a request begins executing (an unreadable one is answered without running). */
  onRequestStart?: () => void;
  /** Told when that request has finished executing, answered or failed. */
  onRequestEnd?: () => void;
  /**
   * Requests running at once (`--connection-requests-max`); 1 (the default): one at a time. See
   * the class comment for which requests may run beside the ones before them.
   */
  requestsMax?: number;
}

const SETTLED = Promise.resolve();

/**
 * True for a request that may start before the ones ahead of it have finished: a
 * `<transactions>` of orders only (and unknown elements, answered without the database). Its
 * orders go to the engine under the connection's {@link SubmissionOrder}, after those of the
 * requests before it. Anything else (a creation, a query, a cancel) waits for every request
 * before it to finish, and every request after it waits for it: a query must see what the orders
 * before it did, and a cancel's order must already be stored.
 */
function startsEarly(request: Request): boolean {
  return request.kind === "transactions" && request.children.length > 0 &&
    request.children.every((child) => child.kind === "order" || child.kind === "unknown");
}

/**
 * Executes each parsed request and emits its answer, in arrival order, with the effect of running
 * them one at a time in that order: a client that pipelines "create account" then "order" on a
 * binary connection relies on the first being committed before the second runs. An answer is
 * emitted only after all of its operations' transactions have finished (committed or rolled
 * back).
 *
 * Up to `requestsMax` requests run at once: a request of orders only starts as soon as the
 * request before it has queued its last operation in the order engine, and the engine decides
 * its orders after those (the same batch, later in it, or a later batch), so pipelined orders
 * share batches as the orders of as many clients would. Measured (issue 19): one at a time, 16
 * binary clients with 4 requests in flight made no more orders per second than with 1.
 *
 * Records every answer in the metrics (operations by kind and outcome, the request's duration)
 * and logs a slow request, or every request with the access log on.
 *
 * @example
 * ```ts
 * import { RequestHandlerStream } from "./request_handler_stream.ts";
 *
 * // Any service with `execute` will do; the server passes its ExchangeService.
 * const service = {
 *   execute: () => Promise.resolve([{ name: "created", attributes: [["id", "1"] as const] }]),
 * };
 * const requests = ReadableStream.from([{
 *   kind: "request" as const,
 *   framing: "text" as const,
 *   request: { kind: "create" as const, children: [] },
 * }]);
 * const [answer] = await Array.fromAsync(requests.pipeThrough(new RequestHandlerStream(service)));
 * // Text framing carries one request per connection: the connection closes after it.
 * if (answer?.xml !== `<results><created id="1"/></results>\n` || !answer.closeAfter) {
 *   throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
 * }
 * ```
 */
export class RequestHandlerStream extends TransformStream<ParsedFrame, Response> {
  constructor(service: Pick<ExchangeService, "execute">, options: RequestHandlerOptions = {}) {
    const logger = options.logger ??
      new Logger({ format: "text", slowMs: 1_000, accessLog: false });
    const metrics = options.metrics ?? processMetrics;
    const conn = options.connectionId ?? "-";
    const report = (
      framing: "text" | "binary",
      started: number,
      what: string,
      counts: OutcomeCounts | undefined,
    ) => {
      const ms = performance.now() - started;
      metrics.requestDuration(framing, ms / 1000);
      const fields = {
        conn,
        framing,
        ms: Math.round(ms * 10) / 10,
        ...(counts ?? {}),
      };
      if (ms > logger.config.slowMs) {
        logger.event("slow_request", `slow request: ${what}`, fields);
      } else if (logger.config.accessLog) {
        logger.event("request", `request: ${what}`, fields);
      }
    };
    const requestsMax = options.requestsMax ?? 1;
    const order = new SubmissionOrder();
    /** The requests running now (each entry resolves when its request has finished). */
    const running = new Set<Promise<void>>();
    /**
     * Resolves once the last request started will queue no more operations in the order engine
     * (at the latest once it has finished; a request not started early, only then).
     */
    let lastReleased: Promise<void> = SETTLED;
    /** Answers are emitted one after another, in arrival order, through this chain. */
    let answers: Promise<void> = SETTLED;
    const execute = async (
      item: Extract<ParsedFrame, { kind: "request" }>,
      started: number,
      closeAfter: boolean,
      sequence: RequestSequence | undefined,
    ): Promise<Response> => {
      options.onRequestStart?.();
      try {
        const results = await withConnection(conn, () => service.execute(item.request, sequence));
        const counts = recordOutcomes(
          item.request,
          results,
          (kind, outcome) => metrics.operation(kind, outcome),
        );
        report(item.framing, started, `<${item.request.kind}>`, counts);
        return { framing: item.framing, xml: renderResults(results), closeAfter };
      } catch (error) {
        // The service answers every operation-level failure itself; reaching here is a bug.
        logger.event("request_failed", `request failed: ${(error as Error)?.stack ?? error}`, {
          conn,
        });
        return { framing: item.framing, xml: renderRequestError(REQUEST_FAILED), closeAfter };
      } finally {
        options.onRequestEnd?.();
      }
    };
    super({
      async transform(item, controller) {
        const started = performance.now();
        const closeAfter = item.framing === "text" || (item.kind === "invalid" && item.fatal);
        let answer: Promise<Response>;
        if (item.kind === "invalid") {
          metrics.invalidRequest(item.framing);
          report(item.framing, started, `invalid (${item.message})`, undefined);
          answer = Promise.resolve({
            framing: item.framing,
            xml: renderRequestError(item.message),
            closeAfter,
          });
        } else {
          while (running.size >= requestsMax) {
            await Promise.race(running);
          }
          const early = requestsMax > 1 && startsEarly(item.request);
          if (running.size > 0) {
            // Every request before this one has finished once those running now have.
            await (early ? lastReleased : Promise.all(running));
          }
          const released = early ? Promise.withResolvers<void>() : undefined;
          answer = execute(
            item,
            started,
            closeAfter,
            released && { order, released: () => released.resolve() },
          );
          const done = answer.then(() => {
            running.delete(done);
            released?.resolve();
          });
          running.add(done);
          lastReleased = released?.promise ?? done;
        }
        answers = answers.then(async () => controller.enqueue(await answer)).catch(() => {
          // The readable side is closed or errored (the connection is gone): nobody reads the
          // answers any more, and the requests still running finish on their own.
        });
        if (requestsMax === 1) {
          // One at a time: this request is answered before the next is read.
          await answers;
        }
      },
      async flush() {
        await answers;
      },
    });
  }
}
