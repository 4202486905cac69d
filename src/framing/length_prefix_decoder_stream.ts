import type { DecodedFrame } from "./frame.ts";
import { FrameDecoder, type FrameDecoderOptions } from "./frame_decoder.ts";

/** What the owner of the stream is told, and asked, as bytes are decoded. */
export interface DecoderHooks {
  /**
   * After each chunk: whether a frame is now half read, and how many frames are complete in
   * all (a new count means a new frame). A connection's frame deadline runs on this.
   */
  decoded?: (midFrame: boolean, framesDecoded: number) => void;
  /**
   * Why the input ended, asked when it ends in the middle of a frame ("timed out", ...); the
   * failure says "connection closed" without it.
   */
  endReason?: () => string | undefined;
}

/**
 * Decodes a connection's bytes into frames of either framing (see {@link FrameDecoder}).
 *
 * When the input ends in the middle of a frame it emits a failure whose message says why the
 * input ended (`hooks.endReason`).
 *
 * @example
 * ```ts
 * import { LengthPrefixDecoderStream } from "./length_prefix_decoder_stream.ts";
 *
 * const bytes = new Uint8Array([0, 0, 0, 4, ...new TextEncoder().encode("<a/>")]);
 * const frames = await Array.fromAsync(
 *   ReadableStream.from([bytes]).pipeThrough(
 *     new LengthPrefixDecoderStream({ frameBytesMax: 1 << 20, lengthLineDigitsMax: 10 }),
 *   ),
 * );
 * if (frames[0]?.kind !== "frame" || frames[0].framing !== "binary") {
 *   throw new Error("expected one binary frame");
 * }
 * ```
 */
export class LengthPrefixDecoderStream extends TransformStream<Uint8Array, DecodedFrame> {
  constructor(options: FrameDecoderOptions, hooks: DecoderHooks = {}) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        for (const item of decoder.push(chunk)) {
          controller.enqueue(item);
        }
        hooks.decoded?.(decoder.midFrame, decoder.framesDecoded);
      },
      flush(controller) {
        for (const item of decoder.end(hooks.endReason?.() ?? "connection closed")) {
          controller.enqueue(item);
        }
      },
    });
  }
}
