import { ok, strictEqual, throws } from "node:assert/strict";
import { TraderWorkload, WARMUP_REQUESTS } from "../../scripts/bench/workload.ts";

/** Answers every order of `request` as opened with ids from `next`. */
function opened(xml: string, next: () => number): string {
  const orders = [...xml.matchAll(/<order [^>]*\/>/g)].map((m) =>
    m[0].replace("/>", ` id="${next()}"/>`).replace("<order", "<opened")
  );
  return `<results>${orders.join("")}</results>`;
}

Deno.test("TraderWorkload on shared accounts spreads requests over them, asking owners only", () => {
  const accounts = ["101", "102", "103"];
  const trader = new TraderWorkload(accounts, ["BX0"], "mix", 7);
  let id = 0;
  const owner = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const request = i < WARMUP_REQUESTS ? trader.warmup()[0]! : trader.next();
    seen.add(request.account);
    ok(request.xml.startsWith(`<transactions id="${request.account}">`));
    // A query or cancel names an order of the request's own account.
    for (const m of request.xml.matchAll(/<(?:query|cancel) id="([0-9]+)"/g)) {
      strictEqual(owner.get(m[1]!), request.account, request.xml);
    }
    const answer = opened(request.xml, () => {
      owner.set(String(++id), request.account);
      return id;
    });
    trader.observe(request, answer);
  }
  strictEqual(seen.size, accounts.length);
});

Deno.test("TraderWorkload on one account names it in every request", () => {
  const trader = new TraderWorkload(["7"], ["BX0", "BX1"], "orders", 1);
  for (let i = 0; i < 20; i++) {
    strictEqual(trader.next().account, "7");
  }
  throws(() => new TraderWorkload([], ["BX0"], "orders", 1), RangeError);
});
