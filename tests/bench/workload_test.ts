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

Deno.test("TraderWorkload with an immediate share sends crossing orders as IOC or FOK and reads their answers", () => {
  const classic = new TraderWorkload(["7"], ["BX0"], "orders", 3);
  const immediate = new TraderWorkload(["7"], ["BX0"], "orders", 3, { immediateShare: 0.5 });
  const tifs = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    ok(!classic.next().xml.includes("tif="), "no share: the classic mix");
    const request = immediate.next();
    const tif = /tif="([A-Z]+)"/.exec(request.xml)?.[1];
    if (tif !== undefined) {
      tifs.set(tif, (tifs.get(tif) ?? 0) + 1);
      strictEqual(request.passive[0], false, `a resting order never carries a tif: ${request.xml}`);
    }
  }
  // About 400 x 0.5 crossing x 0.5 share, half each.
  ok((tifs.get("IOC") ?? 0) > 25 && (tifs.get("FOK") ?? 0) > 25, JSON.stringify([...tifs]));
  // An IOC's answer holds its fills and canceled rest; a killed FOK is an expected refusal.
  const request = immediate.next();
  const check = immediate.observe(
    request,
    `<results><opened sym="BX0" amount="3" limit="112" tif="IOC" id="9"><canceled shares="1" ` +
      `time="1"/><executed shares="2" price="101" time="1"/></opened></results>`,
  );
  strictEqual(check.errors, 0, check.messages.join("; "));
  const killed = immediate.observe(
    request,
    `<results><error sym="BX0" amount="3" limit="112" tif="FOK">Fill or kill: only 2 of 3 ` +
      `shares could fill at once; nothing was done</error></results>`,
  );
  strictEqual(killed.errors, 0, killed.messages.join("; "));
  strictEqual(killed.refusals, 1);
});
