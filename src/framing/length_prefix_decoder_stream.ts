import type { DecodedFrame } from "./frame.ts";
import { FrameDecoder, type FrameDecoderOptions } from "./frame_decoder.ts";

/**
 * Decodes a connection's bytes into frames of either framing (see {@link FrameDecoder}).
 *
 * When the input ends in the middle of a frame it emits a failure; the reason says whether the
 * peer closed or the connection timed out (set {@link endReason} before closing the input).
 *
 * @example
 * ```ts
 * const frames = conn.readable.pipeThrough(
 *   new LengthPrefixDecoderStream({ frameBytesMax: 1 << 20, lengthLineDigitsMax: 10 }),
 * );
 * ```
 */
export class LengthPrefixDecoderStream extends TransformStream<Uint8Array, DecodedFrame> {
  readonly #decoder: FrameDecoder;
  readonly #end: { reason: string };

  constructor(options: FrameDecoderOptions) {
    const decoder = new FrameDecoder(options);
    const end = { reason: "connection closed" };
    super({
      transform(chunk, controller) {
        for (const item of decoder.push(chunk)) {
          controller.enqueue(item);
        }
      },
      flush(controller) {
        for (const item of decoder.end(end.reason)) {
          controller.enqueue(item);
        }
      },
    });
    this.#decoder = decoder;
    this.#end = end;
  }

  /** Why the input ended, used in the failure message of a cut-off frame. */
  set endReason(reason: string) {
    this.#end.reason = reason;
  }

  /** True while part of a frame has arrived but not all of it. */
  get midFrame(): boolean {
    return this.#decoder.midFrame;
  }

  /** Frames completed so far. */
  get framesDecoded(): number {
    return this.#decoder.framesDecoded;
  }
}
