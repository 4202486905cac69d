import { deepStrictEqual, throws } from "node:assert/strict";
import { splitDocuments } from "../../src/client/split_documents.ts";

Deno.test("splitDocuments separates documents written one after another", () => {
  const text = `<?xml version="1.0"?>
<create><account id="1" balance="5"/></create>
<!-- a comment with <tags> --> <transactions id="1"><order sym="A" amount="1" limit="2"/></transactions>
<create/>`;
  deepStrictEqual(splitDocuments(text), [
    `<?xml version="1.0"?>\n<create><account id="1" balance="5"/></create>`,
    `<!-- a comment with <tags> --> <transactions id="1"><order sym="A" amount="1" limit="2"/></transactions>`,
    `<create/>`,
  ]);
});

Deno.test("splitDocuments respects quoted '>' and CDATA", () => {
  deepStrictEqual(splitDocuments(`<a x="1>2"><![CDATA[</a>]]></a><b/>`), [
    `<a x="1>2"><![CDATA[</a>]]></a>`,
    `<b/>`,
  ]);
});

Deno.test("splitDocuments refuses input that ends inside a document", () => {
  throws(() => splitDocuments(`<create><account id="1"`), SyntaxError);
  throws(() => splitDocuments(`<create><account id="1"/>`), SyntaxError);
  deepStrictEqual(splitDocuments("  \n"), []);
});
