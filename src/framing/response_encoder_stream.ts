import { BINARY_HEADER_BYTES, type Framing } from "./frame.ts";

/** One answer ready to be written: an XML document and the framing it goes out in. */
export interface Response {
  readonly framing: Framing;
  readonly xml: string;
  /** Close the connection once this answer is written (text framing, fatal errors). */
  readonly closeAfter: boolean;
}

/** Bytes for the wire, with the close decision carried along. */
export interface EncodedResponse {
  readonly bytes: Uint8Array;
  readonly closeAfter: boolean;
}

const encoder = new TextEncoder();

/** Encodes one answer: plain XML in text framing, 4-byte big-endian length + XML in binary. */
export function encodeResponse(framing: Framing, xml: string): Uint8Array {
  const body = encoder.encode(xml);
  if (framing === "text") {
    return body;
  }
  const bytes = new Uint8Array(BINARY_HEADER_BYTES + body.length);
  new DataView(bytes.buffer).setUint32(0, body.length, false);
  bytes.set(body, BINARY_HEADER_BYTES);
  return bytes;
}

/**
 * Encodes answers for the wire in the framing of the request they answer.
 *
 * @example
 * ```ts
 * import { ResponseEncoderStream } from "./response_encoder_stream.ts";
 *
 * const answers = ReadableStream.from([
 *   { framing: "binary" as const, xml: "<results/>", closeAfter: false },
 * ]);
 * const [encoded] = await Array.fromAsync(answers.pipeThrough(new ResponseEncoderStream()));
 * // A 4-byte big-endian length, then the 10 bytes of the document.
 * if (encoded?.bytes.length !== 14 || encoded.bytes[3] !== 10) {
 *   throw new Error("expected a binary frame of 10 bytes");
 * }
 * ```
 */
export class ResponseEncoderStream extends TransformStream<Response, EncodedResponse> {
  constructor() {
    super({
      transform(response, controller) {
        controller.enqueue({
          bytes: encodeResponse(response.framing, response.xml),
          closeAfter: response.closeAfter,
        });
      },
    });
  }
}
