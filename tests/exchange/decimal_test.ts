import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  add,
  compare,
  formatDatabaseDecimal,
  formatDecimal,
  multiply,
  parseDecimal,
  subtract,
} from "../../src/exchange/decimal.ts";

function d(text: string) {
  const value = parseDecimal(text);
  if (typeof value === "string") throw new Error(`bad decimal ${text}`);
  return value;
}

Deno.test("parseDecimal accepts plain notation only", () => {
  for (const good of ["0", "125", "-5", "145.67", "0.5", "007", "1.000"]) {
    strictEqual(typeof parseDecimal(good), "object", good);
  }
  for (
    const bad of [
      "",
      "+5",
      "1.",
      ".5",
      "1e3",
      "1E3",
      " 5",
      "5 ",
      "1 000",
      "0x10",
      "--1",
      "1.2.3",
      "NaN",
      "∞",
      "١",
    ]
  ) {
    strictEqual(parseDecimal(bad), "syntax", JSON.stringify(bad));
  }
});

Deno.test("parseDecimal bounds the number of digits", () => {
  strictEqual(parseDecimal("1".repeat(19)), "too_many_digits");
  strictEqual(parseDecimal("0." + "1".repeat(13)), "too_many_digits");
  strictEqual(typeof parseDecimal("9".repeat(18) + "." + "9".repeat(12)), "object");
  // Leading and trailing zeros do not count against the limit.
  strictEqual(typeof parseDecimal("0".repeat(30) + "1"), "object");
  strictEqual(formatDecimal(d("1." + "0".repeat(30))), "1");
});

Deno.test("formatDecimal writes plainly without trailing zeros", () => {
  strictEqual(formatDecimal(d("125.000")), "125");
  strictEqual(formatDecimal(d("0145.670")), "145.67");
  strictEqual(formatDecimal(d("0.5")), "0.5");
  strictEqual(formatDecimal(d("-0.050")), "-0.05");
  strictEqual(formatDecimal(d("-0")), "0");
  strictEqual(formatDatabaseDecimal("100.5000000000000000"), "100.5");
  strictEqual(formatDatabaseDecimal("0.00000000000000000001"), "0.00000000000000000001");
});

Deno.test("decimal arithmetic is exact where binary floats are not", () => {
  strictEqual(formatDecimal(add(d("0.1"), d("0.2"))), "0.3");
  strictEqual(formatDecimal(subtract(d("1"), d("0.9"))), "0.1");
  strictEqual(formatDecimal(multiply(d("0.5"), d("100.25"))), "50.125");
  strictEqual(
    formatDecimal(multiply(d("123456789012345678"), d("0.000000000001"))),
    "123456.789012345678",
  );
  strictEqual(compare(d("1.10"), d("1.1")), 0);
  strictEqual(compare(d("-2"), d("1")), -1);
  deepStrictEqual(d("2.50"), { units: 25n, scale: 1 });
});
