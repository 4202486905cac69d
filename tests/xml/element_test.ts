import { strictEqual } from "node:assert/strict";
import { element, renderResults } from "../../src/xml/element.ts";

Deno.test("renderResults escapes attribute values and text", () => {
  const xml = renderResults([
    element("error", [["id", `a"b<c>&d\te`]], { text: "x < y & z > w" }),
    element("created", [["id", "1"]]),
  ]);
  strictEqual(
    xml,
    `<results><error id="a&quot;b&lt;c&gt;&amp;d&#9;e">x &lt; y &amp; z &gt; w</error><created id="1"/></results>\n`,
  );
});

Deno.test("renderResults replaces characters XML cannot carry", () => {
  strictEqual(
    renderResults([element("error", [["id", "a\u0001b"]])]),
    `<results><error id="a\uFFFDb"/></results>\n`,
  );
});

Deno.test("renderResults nests children in order", () => {
  const xml = renderResults([
    element("status", [["id", "1"]], {
      children: [
        element("open", [["shares", "100"]]),
        element("executed", [["shares", "5"], ["price", "1"]]),
      ],
    }),
  ]);
  strictEqual(
    xml,
    `<results><status id="1"><open shares="100"/><executed shares="5" price="1"/></status></results>\n`,
  );
});
