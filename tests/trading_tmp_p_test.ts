import { results } from "/work/main/tests/support/xml.ts";
Deno.test("x", () => {
  console.log(JSON.stringify(results(`<results><opened sym="X" amount="100.50" limit="007" id="1"/><error amount=" 5" limit="1e3">msg &amp; x</error></results>`)));
});
