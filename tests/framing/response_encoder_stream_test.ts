import { deepStrictEqual } from "node:assert/strict";
import { ResponseEncoderStream } from "../../src/framing/response_encoder_stream.ts";

Deno.test("ResponseEncoderStream writes plain XML in text framing and length-prefixed in binary", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from([
      { framing: "text" as const, xml: "<results/>", closeAfter: true },
      { framing: "binary" as const, xml: "<results>é</results>", closeAfter: false },
    ]).pipeThrough(new ResponseEncoderStream()),
  );
  deepStrictEqual(new TextDecoder().decode(out[0]!.bytes), "<results/>");
  deepStrictEqual(out[0]!.closeAfter, true);
  const bytes = out[1]!.bytes;
  // "é" is two bytes in UTF-8: the prefix counts bytes, not characters.
  deepStrictEqual([...bytes.slice(0, 4)], [0, 0, 0, 21]);
  deepStrictEqual(new TextDecoder().decode(bytes.slice(4)), "<results>é</results>");
});
