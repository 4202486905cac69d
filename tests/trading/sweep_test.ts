/**
 * One order sweeping thousands of resting orders (issue 19), through the wire and a real
 * PostgreSQL: the decision resumes page after page, so this is where a resumed match that lost
 * or repeated a row, broke price-time priority across pages, or settled a cent wrong would show.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { auditDatabase } from "../../src/db/audit.ts";
import {
  add,
  compare,
  type Decimal,
  formatDecimal,
  min,
  multiply,
  parseDecimal,
  subtract,
  ZERO,
} from "../../src/exchange/decimal.ts";
import { startTestServer } from "../support/harness.ts";
import {
  balanceOf,
  createAccounts,
  mint,
  placeOrder,
  sharesOf,
  transact,
} from "./exchange_fixture.ts";

function d(text: string): Decimal {
  const value = parseDecimal(text);
  if (typeof value === "string") throw new Error(text);
  return value;
}

/** Resting sells placed, sweeping buy's depth: several pages of 1024 rows, the largest page. */
const RESTING = 3_000;
/** Resting sells per request; requests run at once, so the engine batches their orders. */
const PER_REQUEST = 100;

Deno.test("a buy sweeping 3000 resting sells fills them all in price-time order with exact cash and shares", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    await createAccounts(port, { "1": "1000000", "2": "0", "3": "0" });
    await mint(port, "X", { "2": "10000", "3": "10000" });
    // Sells from accounts 2 and 3, sizes 0.5 to 2, prices 10 to 13 in quarters, scrambled so
    // that price levels straddle pages and ids interleave across levels.
    type Resting = { id: bigint; account: string; shares: Decimal; price: Decimal };
    const specs = Array.from({ length: RESTING }, (_, i) => ({
      account: i % 2 === 0 ? "2" : "3",
      shares: ["1", "0.5", "2", "1.25"][i % 4]!,
      price: formatDecimal(add(d("10"), multiply(d("0.25"), d(String((i * 7) % 13))))),
    }));
    const requests: Array<Promise<Resting[]>> = [];
    for (let start = 0; start < RESTING; start += PER_REQUEST) {
      const chunk = specs.slice(start, start + PER_REQUEST);
      const account = chunk[0]!.account;
      const mine = chunk.filter((s) => s.account === account);
      const theirs = chunk.filter((s) => s.account !== account);
      for (const [who, orders] of [[account, mine], [theirs[0]?.account, theirs]] as const) {
        if (who === undefined || orders.length === 0) {
          continue;
        }
        requests.push(
          transact(
            port,
            who,
            orders.map((s) => `<order sym="X" amount="-${s.shares}" limit="${s.price}"/>`).join(""),
          ).then((answer) =>
            answer.map((opened, k) => {
              strictEqual(opened.name, "opened", opened.text);
              const spec = orders[k]!;
              return {
                id: BigInt(opened.attributes.id!),
                account: who,
                shares: d(spec.shares),
                price: d(spec.price),
              };
            })
          ),
        );
      }
    }
    const book = (await Promise.all(requests)).flat();
    strictEqual(book.length, RESTING);

    // The buy crosses every level up to 12.75 and leaves the last crossing order 0.75 open.
    const limit = d("12.75");
    const crossing = book.filter((r) => compare(r.price, limit) <= 0).sort((a, b) =>
      compare(a.price, b.price) || (a.id < b.id ? -1 : 1)
    );
    const wanted = subtract(crossing.reduce((sum, r) => add(sum, r.shares), ZERO), d("0.75"));
    const expected: string[] = [];
    const proceeds = new Map([["2", ZERO], ["3", ZERO]]);
    let left = wanted;
    let paid = ZERO;
    for (const r of crossing) {
      const shares = min(left, r.shares);
      if (compare(shares, ZERO) <= 0) {
        break;
      }
      expected.push(`${formatDecimal(shares)}@${formatDecimal(r.price)}`);
      const value = multiply(shares, r.price);
      paid = add(paid, value);
      proceeds.set(r.account, add(proceeds.get(r.account)!, value));
      left = subtract(left, shares);
    }
    strictEqual(expected.length, crossing.length);

    const buy = await placeOrder(port, "1", "X", formatDecimal(wanted), formatDecimal(limit));
    const [status] = await transact(port, "1", `<query id="${buy}"/>`);
    strictEqual(status!.children.some((e) => e.name === "open"), false, "the buy filled whole");
    deepStrictEqual(
      status!.children.map((e) => `${e.attributes.shares}@${e.attributes.price}`),
      expected,
    );
    // The buyer pays each resting sell's price (the refunds settle the rest of its reservation).
    strictEqual(await balanceOf(sql, "1"), formatDecimal(subtract(d("1000000"), paid)));
    strictEqual(await balanceOf(sql, "2"), formatDecimal(proceeds.get("2")!));
    strictEqual(await balanceOf(sql, "3"), formatDecimal(proceeds.get("3")!));
    strictEqual(await sharesOf(sql, "1", "X"), formatDecimal(wanted));
    // Exactly 0.75 crossing shares stay open, on the last crossing order in priority order.
    const last = crossing.at(-1)!;
    const open = await sql`
      SELECT id::text AS id, open_shares::text AS open FROM orders
      WHERE sym = 'X' AND amount < 0 AND open_shares > 0 AND limit_price <= 12.75`;
    deepStrictEqual(open.map((r) => [r.id, formatDecimal(d(r.open as string))]), [
      [last.id.toString(), "0.75"],
    ]);
    deepStrictEqual((await auditDatabase(sql)).violations, []);
  } finally {
    await server.close();
  }
});
