import type { DecodedFrame, Framing } from "../framing/frame.ts";
import { parseRequest, type RequestLimits, RequestSyntaxError } from "./parse_request.ts";
import type { Request } from "./request.ts";

/** A frame turned into a request, or the reason it could not be. */
export type ParsedFrame =
  | { readonly kind: "request"; readonly framing: Framing; readonly request: Request }
  | {
    readonly kind: "invalid";
    readonly framing: Framing;
    readonly message: string;
    /** The connection cannot continue (a framing failure); close after answering. */
    readonly fatal: boolean;
  };

/**
 * Parses each frame's XML into a typed request. Frame failures pass through as fatal; XML
 * problems become non-fatal answers, so a binary connection keeps going after a bad document.
 *
 * @example
 * ```ts
 * import { XmlRequestStream } from "./xml_request_stream.ts";
 *
 * const payload = new TextEncoder().encode(`<create><account id="1" balance="100"/></create>`);
 * const frames = ReadableStream.from([{ kind: "frame" as const, framing: "text" as const, payload }]);
 * const limits = { xmlDepthMax: 16, childrenPerRequestMax: 100, attributesPerElementMax: 16 };
 * const [parsed] = await Array.fromAsync(frames.pipeThrough(new XmlRequestStream(limits)));
 * if (parsed?.kind !== "request" || parsed.request.kind !== "create") {
 *   throw new Error("expected a create request");
 * }
 * ```
 */
export class XmlRequestStream extends TransformStream<DecodedFrame, ParsedFrame> {
  constructor(limits: RequestLimits) {
    super({
      transform(item, controller) {
        if (item.kind === "failure") {
          controller.enqueue({
            kind: "invalid",
            framing: item.framing,
            message: item.message,
            fatal: true,
          });
          return;
        }
        try {
          controller.enqueue({
            kind: "request",
            framing: item.framing,
            request: parseRequest(item.payload, limits),
          });
        } catch (error) {
          if (!(error instanceof RequestSyntaxError)) {
            throw error;
          }
          controller.enqueue({
            kind: "invalid",
            framing: item.framing,
            message: error.message,
            fatal: false,
          });
        }
      },
    });
  }
}
