/** The two wire framings, told apart by the first byte a client sends. */
export type Framing = "text" | "binary";

/** One complete request payload, as it arrived on the wire. */
export interface Frame {
  readonly kind: "frame";
  readonly framing: Framing;
  readonly payload: Uint8Array;
}

/**
 * The stream could not be decoded any further (bad length, oversize, cut off, stalled).
 * The connection answers `message` in `framing` where it still can and then closes.
 */
export interface FrameFailure {
  readonly kind: "failure";
  readonly framing: Framing;
  readonly message: string;
}

/** What the decoder emits. */
export type DecodedFrame = Frame | FrameFailure;

/** Size of the binary framing's length prefix: a 4-byte unsigned big-endian integer. */
export const BINARY_HEADER_BYTES = 4;

/** A byte that starts text framing: an ASCII digit of the length line. */
export function isTextFramingByte(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}
