import type { Response } from "../framing/response_encoder_stream.ts";
import { renderRequestError, renderResults } from "../xml/element.ts";
import { REQUEST_FAILED } from "../xml/answers.ts";
import type { ParsedFrame } from "../xml/xml_request_stream.ts";
import type { ExchangeService } from "./exchange_service.ts";
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
}

/**
 * Executes each parsed request and emits its answer, strictly one request at a time and in
 * arrival order: a client that pipelines "create account" then "order" on a binary connection
 * relies on the first being committed before the second runs. An answer is emitted only after
 * all of its operations' transactions have finished (committed or rolled back).
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
    super({
      async transform(item, controller) {
        const started = performance.now();
        const closeAfter = item.framing === "text" || (item.kind === "invalid" && item.fatal);
        if (item.kind === "invalid") {
          metrics.invalidRequest(item.framing);
          controller.enqueue({
            framing: item.framing,
            xml: renderRequestError(item.message),
            closeAfter,
          });
          report(item.framing, started, `invalid (${item.message})`, undefined);
          return;
        }
        options.onRequestStart?.();
        try {
          const results = await withConnection(conn, () => service.execute(item.request));
          const counts = recordOutcomes(
            item.request,
            results,
            (kind, outcome) => metrics.operation(kind, outcome),
          );
          controller.enqueue({ framing: item.framing, xml: renderResults(results), closeAfter });
          report(item.framing, started, `<${item.request.kind}>`, counts);
        } catch (error) {
          // The service answers every operation-level failure itself; reaching here is a bug.
          logger.event("request_failed", `request failed: ${(error as Error)?.stack ?? error}`, {
            conn,
          });
          controller.enqueue({
            framing: item.framing,
            xml: renderRequestError(REQUEST_FAILED),
            closeAfter,
          });
        } finally {
          options.onRequestEnd?.();
        }
      },
    });
  }
}
