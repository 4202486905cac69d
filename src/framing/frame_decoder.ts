import {
  BINARY_HEADER_BYTES,
  type DecodedFrame,
  type Framing,
  isTextFramingByte,
} from "./frame.ts";

/** Limits of the decoder. */
export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes. */
  frameBytesMax: number;
  /** Longest length line accepted in text framing, in digits. */
  lengthLineDigitsMax: number;
  /**
   * The framing, when known in advance (a client reading the answers on its own connection);
   * otherwise the first byte chooses it, as the server does.
   */
  framing?: Framing;
}

type State =
  | "start" // nothing received yet: the next byte chooses the framing
  | "length-line" // text framing: reading ASCII digits up to "\n"
  | "header" // binary framing: reading the 4-byte length
  | "payload" // reading the payload bytes
  | "done" // text framing after its one request: further bytes are ignored
  | "failed"; // a failure was emitted: further bytes are ignored

const LF = 0x0a;
const CR = 0x0d;

/**
 * Turns a byte stream into frames, for both framings. Pure: no I/O, no timers.
 *
 * Every byte is looked at once and copied at most once (into the payload buffer, which is
 * allocated at its final size as soon as the length is known), so decoding is linear in the
 * input whatever the chunk boundaries are. Nothing beyond `frameBytesMax` is ever buffered.
 */
export class FrameDecoder {
  readonly #options: FrameDecoderOptions;
  #state: State = "start";
  #framing: Framing | undefined;
  #lengthDigits = "";
  #sawCarriageReturn = false;
  #header = new Uint8Array(BINARY_HEADER_BYTES);
  #headerFilled = 0;
  #payload: Uint8Array = new Uint8Array(0);
  #payloadFilled = 0;
  #framesDecoded = 0;

  constructor(options: FrameDecoderOptions) {
    this.#options = options;
    if (options.framing !== undefined) {
      this.#framing = options.framing;
      this.#state = options.framing === "text" ? "length-line" : "header";
    }
  }

  /** True while part of a frame has arrived but not all of it. */
  get midFrame(): boolean {
    if (this.#state === "length-line" || this.#state === "payload") {
      return true;
    }
    return this.#state === "header" && this.#headerFilled > 0;
  }

  /** Frames completed so far; lets a caller tell a stalled frame from a stream of frames. */
  get framesDecoded(): number {
    return this.#framesDecoded;
  }

  /** True once no further frame can come (text framing answered, or a failure). */
  get finished(): boolean {
    return this.#state === "done" || this.#state === "failed";
  }

  /** Feeds one chunk; returns the frames and failures it completed, in order. */
  push(chunk: Uint8Array): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (this.#state) {
        case "start": {
          const first = chunk[i]!;
          this.#framing = isTextFramingByte(first) ? "text" : "binary";
          this.#state = this.#framing === "text" ? "length-line" : "header";
          break;
        }
        case "length-line":
          i = this.#readLengthLine(chunk, i, out);
          break;
        case "header":
          i = this.#readHeader(chunk, i, out);
          break;
        case "payload":
          i = this.#readPayload(chunk, i, out);
          break;
        case "done":
        case "failed":
          return out;
      }
    }
    return out;
  }

  /**
   * The input ended (end of stream, timeout or shutdown). Returns a failure if a frame was cut
   * off, describing why with `reason` ("connection closed", "timed out").
   */
  end(reason: string): DecodedFrame[] {
    if (!this.midFrame || this.#framing === undefined) {
      return [];
    }
    let message: string;
    if (this.#state === "payload") {
      message = `Cannot decode frame: ${reason} after ${this.#payloadFilled} of ` +
        `${this.#payload.length} payload bytes`;
    } else {
      message = `Cannot decode frame: ${reason} before the length was complete`;
    }
    return [this.#fail(message)];
  }

  #readLengthLine(chunk: Uint8Array, start: number, out: DecodedFrame[]): number {
    let i = start;
    while (i < chunk.length) {
      const byte = chunk[i]!;
      i++;
      if (byte === LF) {
        this.#beginPayload(Number(this.#lengthDigits), out);
        return i;
      }
      if (byte === CR && !this.#sawCarriageReturn && this.#lengthDigits.length > 0) {
        // Tolerate "\r\n" line endings from clients written on other platforms.
        this.#sawCarriageReturn = true;
        continue;
      }
      if (this.#sawCarriageReturn || !isTextFramingByte(byte)) {
        out.push(
          this.#fail("Cannot decode frame: length line must be decimal digits then a newline"),
        );
        return chunk.length;
      }
      if (this.#lengthDigits.length >= this.#options.lengthLineDigitsMax) {
        out.push(
          this.#fail(
            `Cannot decode frame: length line exceeds ${this.#options.lengthLineDigitsMax} digits`,
          ),
        );
        return chunk.length;
      }
      this.#lengthDigits += String.fromCharCode(byte);
    }
    return i;
  }

  #readHeader(chunk: Uint8Array, start: number, out: DecodedFrame[]): number {
    const take = Math.min(BINARY_HEADER_BYTES - this.#headerFilled, chunk.length - start);
    this.#header.set(chunk.subarray(start, start + take), this.#headerFilled);
    this.#headerFilled += take;
    if (this.#headerFilled === BINARY_HEADER_BYTES) {
      const length = new DataView(this.#header.buffer).getUint32(0, false);
      this.#headerFilled = 0;
      this.#beginPayload(length, out);
    }
    return start + take;
  }

  #beginPayload(length: number, out: DecodedFrame[]): void {
    if (length > this.#options.frameBytesMax) {
      out.push(
        this.#fail(
          `Cannot decode frame: length ${length} exceeds limit of ${this.#options.frameBytesMax} bytes`,
        ),
      );
      return;
    }
    this.#payload = new Uint8Array(length);
    this.#payloadFilled = 0;
    this.#state = "payload";
    if (length === 0) {
      this.#completePayload(out);
    }
  }

  #readPayload(chunk: Uint8Array, start: number, out: DecodedFrame[]): number {
    const take = Math.min(this.#payload.length - this.#payloadFilled, chunk.length - start);
    this.#payload.set(chunk.subarray(start, start + take), this.#payloadFilled);
    this.#payloadFilled += take;
    if (this.#payloadFilled === this.#payload.length) {
      this.#completePayload(out);
    }
    return start + take;
  }

  #completePayload(out: DecodedFrame[]): void {
    out.push({ kind: "frame", framing: this.#framing!, payload: this.#payload });
    this.#framesDecoded++;
    this.#payload = new Uint8Array(0);
    this.#payloadFilled = 0;
    // Text framing carries exactly one request; whatever follows it is not read.
    this.#state = this.#framing === "text" ? "done" : "header";
  }

  #fail(message: string): DecodedFrame {
    this.#state = "failed";
    this.#payload = new Uint8Array(0);
    return { kind: "failure", framing: this.#framing ?? "binary", message };
  }
}
