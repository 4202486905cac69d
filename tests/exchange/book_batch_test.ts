/**
 * The pure decision of a batch (src/exchange/book_batch.ts), driven the way the database layer
 * drives it: the first page of each side the batch's orders meet, then further pages on demand.
 * Resuming after pages must give exactly the decision of reading every book whole at once, with
 * the batch's own resting orders, cancels of rows not read yet and several books in play; and
 * a few decisions are spelled out fill by fill, so that both ways being wrong alike fails too.
 */
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  type BatchDecision,
  type BatchInput,
  type BatchOp,
  type CancelTarget,
  NEW_ORDER_BASE,
  type StoredBook,
} from "../../src/exchange/batch_types.ts";
import { BatchDecider } from "../../src/exchange/book_batch.ts";
import { type Decimal, formatDecimal, parseDecimal } from "../../src/exchange/decimal.ts";
import type { RestingOrder, Side } from "../../src/exchange/matching.ts";
import { seededRandom } from "../../scripts/support/seeded_random.ts";

function d(text: string): Decimal {
  const value = parseDecimal(text);
  if (typeof value === "string") throw new Error(text);
  return value;
}

/** A stored book: both sides whole, in priority order. */
interface Book {
  readonly buys: readonly RestingOrder[];
  readonly sells: readonly RestingOrder[];
  readonly positions: ReadonlyMap<string, Decimal>;
}

interface Scenario {
  readonly ops: readonly BatchOp[];
  readonly books: ReadonlyMap<string, Book>;
  readonly balances: ReadonlyMap<string, Decimal>;
  readonly cancelTargets: ReadonlyMap<bigint, CancelTarget>;
  readonly rowsMax?: number;
}

function resting(id: number, accountId: string, open: string, limit: string): RestingOrder {
  return { id: BigInt(id), accountId, open: d(open), limit: d(limit) };
}

const buy = (sym: string, accountId: string, shares: string, limit: string): BatchOp => ({
  kind: "order",
  sym,
  accountId,
  side: "buy",
  shares: d(shares),
  limit: d(limit),
});

const sell = (sym: string, accountId: string, shares: string, limit: string): BatchOp => ({
  kind: "order",
  sym,
  accountId,
  side: "sell",
  shares: d(shares),
  limit: d(limit),
});

const cancel = (sym: string, accountId: string, orderId: number): BatchOp => ({
  kind: "cancel",
  sym,
  accountId,
  orderId: BigInt(orderId),
});

/** The decision with every book read whole in round trip 1: no page is ever asked for. */
function decideWhole(scenario: Scenario): BatchDecision {
  const books = new Map<string, StoredBook>();
  for (const [sym, book] of scenario.books) {
    books.set(sym, {
      exists: true,
      buys: { rows: book.buys, complete: true },
      sells: { rows: book.sells, complete: true },
      positions: book.positions,
    });
  }
  const decider = new BatchDecider(input(scenario, books), { rowsMax: scenario.rowsMax ?? 1e9 });
  const decision = decider.run();
  strictEqual(decision.kind, "decided", "a whole book needs no further page");
  return decision as BatchDecision;
}

function input(scenario: Scenario, books: Map<string, StoredBook>): BatchInput {
  return {
    ops: scenario.ops,
    books,
    balances: scenario.balances,
    cancelTargets: scenario.cancelTargets,
  };
}

/**
 * The decision read as the database layer reads it: the first `pageSizes(0)` rows of each side
 * an order of the batch meets (a side no order meets is not read), then pages of the next sizes
 * after the last row read, as often as the decision asks. A page shorter than asked is the end.
 */
function decidePaged(
  scenario: Scenario,
  pageSize: (page: number) => number,
): { decision: BatchDecision; pages: number } {
  const met = new Set<string>();
  for (const op of scenario.ops) {
    if (op.kind === "order") {
      met.add(`${op.sym}/${op.side === "buy" ? "sell" : "buy"}`);
    }
  }
  const read = new Map<string, { at: number; pages: number }>();
  const page = (sym: string, side: Side) => {
    const key = `${sym}/${side}`;
    const state = read.get(key) ?? { at: 0, pages: 0 };
    read.set(key, state);
    const size = pageSize(state.pages++);
    const all = side === "buy" ? scenario.books.get(sym)!.buys : scenario.books.get(sym)!.sells;
    const rows = all.slice(state.at, state.at + size);
    state.at += rows.length;
    return { rows, complete: rows.length < size };
  };
  const books = new Map<string, StoredBook>();
  for (const [sym, book] of scenario.books) {
    const unread = { rows: [], complete: false };
    books.set(sym, {
      exists: true,
      buys: met.has(`${sym}/buy`) ? page(sym, "buy") : unread,
      sells: met.has(`${sym}/sell`) ? page(sym, "sell") : unread,
      positions: book.positions,
    });
  }
  const decider = new BatchDecider(input(scenario, books), { rowsMax: scenario.rowsMax ?? 1e9 });
  let pages = 0;
  for (let step = decider.run(); step.kind === "need_page"; step = decider.run()) {
    const next = page(step.sym, step.side);
    decider.addPage(step.sym, step.side, next.rows, next.complete);
    pages++;
    if (step.kind === "need_page" && pages > 100_000) {
      throw new Error("the decision keeps asking for pages");
    }
  }
  return { decision: decider.run() as BatchDecision, pages };
}

/** A decision as plain data (decimals as text, ids as strings, maps as entry lists). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v) => {
    if (typeof v === "bigint") {
      return v.toString();
    }
    if (v instanceof Map) {
      return [...v.entries()];
    }
    if (v !== null && typeof v === "object" && "units" in v && "scale" in v) {
      return formatDecimal(v as Decimal);
    }
    return v;
  }));
}

/** Executions as `buy>sell:shares@price`, new orders as `n0`, `n1`, ... */
function trades(decision: BatchDecision): string[] {
  const ref = (id: bigint) => id >= NEW_ORDER_BASE ? `n${id - NEW_ORDER_BASE}` : `${id}`;
  return decision.executions.map((x) =>
    `${ref(x.buyRef)}>${ref(x.sellRef)}:${formatDecimal(x.shares)}@${formatDecimal(x.price)}`
  );
}

/** Asserts that every way of paging gives the whole-book decision; returns it. */
function samePagedOrWhole(scenario: Scenario): BatchDecision {
  const whole = decideWhole(scenario);
  const sizes: Array<[string, (page: number) => number]> = [
    ["1 row per page", () => 1],
    ["2 rows per page", () => 2],
    ["3 rows per page", () => 3],
    ["doubling from 1", (page) => 2 ** page],
    ["8, then 5", (page) => page === 0 ? 8 : 5],
  ];
  for (const [name, size] of sizes) {
    deepStrictEqual(plain(decidePaged(scenario, size).decision), plain(whole), name);
  }
  return whole;
}

const noPositions = new Map<string, Decimal>();

Deno.test("a sweep resumed page by page fills the stored rows, then the batch's own order behind them", () => {
  // Ten one-share sells at 100 (ids 1..10). The batch first rests its own sell at 100: it is
  // behind every stored row at that price (newer), even those not read yet. Then a buy of 11
  // takes the ten stored rows in id order and the batch's own sell last.
  const sells = Array.from({ length: 10 }, (_, i) => resting(i + 1, "s", "1", "100"));
  const scenario: Scenario = {
    ops: [sell("X", "t", "1", "100"), buy("X", "b", "11", "100")],
    books: new Map([["X", { buys: [], sells, positions: new Map([["t", d("5")]]) }]]),
    balances: new Map([["b", d("2000")]]),
    cancelTargets: new Map(),
  };
  const decision = samePagedOrWhole(scenario);
  deepStrictEqual(trades(decision), [
    ...sells.map((s) => `n1>${s.id}:1@100`),
    "n1>n0:1@100",
  ]);
  deepStrictEqual(decidePaged(scenario, () => 2).pages, 5, "pages after the first, 2 rows each");
  deepStrictEqual(plain(decision.cash), [["b", "-1100"], ["s", "1000"], ["t", "100"]]);
});

Deno.test("the batch's own order at a better price than any row read fills before the next page", () => {
  // Stored sells at 100 (ids 1..4) and 102 (5..6); the batch rests a sell at 101, which belongs
  // between them: after the 100s, before the 102s, whichever page they come in.
  const sells = [
    ...Array.from({ length: 4 }, (_, i) => resting(i + 1, "s", "1", "100")),
    resting(5, "s", "1", "102"),
    resting(6, "s", "1", "102"),
  ];
  const scenario: Scenario = {
    ops: [sell("X", "t", "2", "101"), buy("X", "b", "7", "102")],
    books: new Map([["X", { buys: [], sells, positions: new Map([["t", d("2")]]) }]]),
    balances: new Map([["b", d("1000")]]),
    cancelTargets: new Map(),
  };
  deepStrictEqual(trades(samePagedOrWhole(scenario)), [
    "n1>1:1@100",
    "n1>2:1@100",
    "n1>3:1@100",
    "n1>4:1@100",
    "n1>n0:2@101",
    "n1>5:1@102",
  ]);
});

Deno.test("a cancel of a row not read yet keeps it out of a later sweep, and a later cancel sees the fill", () => {
  // Sells 1..6 at 100..105. Order 5 is canceled before any page reaches it; order 3 is filled
  // in part by the first buy, then canceled for what is left; the second buy skips both.
  const sells = Array.from({ length: 6 }, (_, i) => resting(i + 1, "s", "2", String(100 + i)));
  const target = (id: number): [bigint, CancelTarget] => [BigInt(id), {
    id: BigInt(id),
    sym: "X",
    accountId: "s",
    side: "sell",
    limit: d(String(99 + id)),
    open: d("2"),
  }];
  const scenario: Scenario = {
    ops: [
      cancel("X", "s", 5),
      buy("X", "b", "5", "102"),
      cancel("X", "s", 3),
      cancel("X", "s", 3),
      buy("X", "b", "3", "110"),
    ],
    books: new Map([["X", { buys: [], sells, positions: noPositions }]]),
    balances: new Map([["b", d("10000")]]),
    cancelTargets: new Map([target(5), target(3)]),
  };
  const decision = samePagedOrWhole(scenario);
  deepStrictEqual(trades(decision), [
    "n0>1:2@100",
    "n0>2:2@101",
    "n0>3:1@102",
    "n1>4:2@103",
    "n1>6:1@105",
  ]);
  deepStrictEqual(plain(decision.results), [
    { kind: "canceled", orderId: "5", shares: "2", executionsBefore: 0 },
    { kind: "opened", ordinal: 0 },
    { kind: "canceled", orderId: "3", shares: "1", executionsBefore: 3 },
    { kind: "refused", refusal: { kind: "nothing_open" } },
    { kind: "opened", ordinal: 1 },
  ]);
  deepStrictEqual(plain(decision.storedChanges), [
    ["5", { open: "0", canceled: "2" }],
    ["1", { open: "0", canceled: "0" }],
    ["2", { open: "0", canceled: "0" }],
    ["3", { open: "0", canceled: "1" }],
    ["4", { open: "0", canceled: "0" }],
    ["6", { open: "1", canceled: "0" }],
  ]);
});

Deno.test("several books: proceeds of a sweep on one book fund a buy on another, paged alike", () => {
  const scenario: Scenario = {
    ops: [
      buy("Y", "a", "3", "10"), // refused: account a has 5
      sell("X", "a", "4", "20"), // sweeps buys 1..3 of X: 25 + 24 + 2 x 23 = 95
      buy("Y", "a", "3", "10"), // now funded: fills sells 10, 11 of Y at 9, then rests 1
      sell("Y", "c", "1", "10"), // meets the batch's own resting buy on Y
    ],
    books: new Map([
      ["X", {
        buys: [resting(1, "x", "1", "25"), resting(2, "x", "1", "24"), resting(3, "x", "5", "23")],
        sells: [],
        positions: new Map([["a", d("4")]]),
      }],
      ["Y", {
        buys: [],
        sells: [resting(10, "y", "1", "9"), resting(11, "y", "1", "9")],
        positions: new Map([["c", d("1")]]),
      }],
    ]),
    balances: new Map([["a", d("5")]]),
    cancelTargets: new Map(),
  };
  const decision = samePagedOrWhole(scenario);
  strictEqual(decision.results[0]!.kind, "refused");
  deepStrictEqual(trades(decision), [
    "1>n0:1@25",
    "2>n0:1@24",
    "3>n0:2@23",
    "n1>10:1@9",
    "n1>11:1@9",
    "n1>n2:1@10",
  ]);
  // a: +95 from the sale, -30 reserved, +2 refunded (10 - 9 on two shares).
  strictEqual(formatDecimal(decision.cash.get("a")!), "67");
});

Deno.test("random batches decide the same whether their books are read whole or page by page", () => {
  for (let seed = 1; seed <= 150; seed++) {
    const scenario = randomScenario(seed);
    try {
      samePagedOrWhole(scenario);
      const random = seededRandom(seed * 7919);
      deepStrictEqual(
        plain(decidePaged(scenario, () => 1 + Math.floor(random() * 6)).decision),
        plain(decideWhole(scenario)),
      );
    } catch (error) {
      throw new Error(`seed ${seed}: ${(error as Error).message}`);
    }
  }
});

Deno.test("the rows bound leaves an order that would cross it to the next batch, unless it comes first", () => {
  const sells = Array.from({ length: 12 }, (_, i) => resting(i + 1, "s", "1", "100"));
  const base: Scenario = {
    ops: [
      buy("X", "b", "2", "100"), // 2 rows
      buy("X", "b", "5", "100"), // 7 rows
      buy("X", "b", "1", "100"), // 8 rows
      cancel("X", "s", 12), // no row
    ],
    books: new Map([["X", { buys: [], sells, positions: noPositions }]]),
    balances: new Map([["b", d("10000")]]),
    cancelTargets: new Map(),
  };
  // Past the bound of 4 with the second order: its match is undone and nothing after the first
  // is decided; what stays is exactly the first order decided alone (fills, changes, relied
  // balances, executions), however the book was paged.
  const bounded = samePagedOrWhole({ ...base, rowsMax: 4 });
  deepStrictEqual(plain(bounded.results), [{ kind: "opened", ordinal: 0 }]);
  strictEqual(bounded.rowsSwept, 2);
  deepStrictEqual(
    plain(bounded),
    plain(samePagedOrWhole({ ...base, ops: base.ops.slice(0, 1), rowsMax: 4 })),
  );
  // Exactly at the bound is not past it.
  strictEqual(samePagedOrWhole({ ...base, rowsMax: 7 }).results.length, 2);
  strictEqual(samePagedOrWhole({ ...base, rowsMax: 8 }).results.length, 4);
  // An order that comes first is decided whole however far past the bound it goes, and then
  // nothing after it is: a deep sweep runs in a batch of its own.
  const alone = samePagedOrWhole({
    ...base,
    ops: [buy("X", "b", "12", "100"), buy("X", "b", "1", "100")],
    rowsMax: 1,
  });
  strictEqual(alone.executions.length, 12);
  strictEqual(alone.results.length, 1);
  // The order behind a refusal is not first: the refusal was decided before it.
  const afterRefusal = samePagedOrWhole({
    ...base,
    ops: [buy("X", "poor", "1", "100"), buy("X", "b", "12", "100")],
    balances: new Map([["b", d("10000")], ["poor", d("0")]]),
    rowsMax: 1,
  });
  strictEqual(afterRefusal.results.length, 1);
  strictEqual(afterRefusal.results[0]!.kind, "refused");
  strictEqual(afterRefusal.executions.length, 0);
  deepStrictEqual(plain(afterRefusal.reliedBalances), [["poor", "0"]]);
});

/**
 * `decidedAtMost` at each page a decision asks for, reading one row per page, with the
 * decision's own count at the end: what a caller that lets other books go early relies on.
 */
function decidedAtMostByPage(
  scenario: Scenario,
): { seen: Array<number | undefined>; decided: number } {
  const books = new Map<string, StoredBook>();
  const at = new Map<string, number>();
  for (const [sym, book] of scenario.books) {
    books.set(sym, {
      exists: true,
      buys: { rows: [], complete: book.buys.length === 0 },
      sells: { rows: [], complete: book.sells.length === 0 },
      positions: book.positions,
    });
  }
  const decider = new BatchDecider(input(scenario, books), { rowsMax: scenario.rowsMax ?? 1e9 });
  const seen: Array<number | undefined> = [];
  for (let step = decider.run(); step.kind === "need_page"; step = decider.run()) {
    seen.push(decider.decidedAtMost());
    const key = `${step.sym}/${step.side}`;
    const all = step.side === "buy"
      ? scenario.books.get(step.sym)!.buys
      : scenario.books.get(step.sym)!.sells;
    const from = at.get(key) ?? 0;
    at.set(key, from + 1);
    decider.addPage(step.sym, step.side, all.slice(from, from + 1), from + 1 >= all.length);
  }
  return { seen, decided: (decider.run() as BatchDecision).results.length };
}

Deno.test("decidedAtMost names the batch's end as soon as its first order is past the rows bound", () => {
  const sells = Array.from({ length: 12 }, (_, i) => resting(i + 1, "s", "1", "100"));
  const books = new Map([
    ["X", { buys: [], sells, positions: noPositions }],
    ["Y", { buys: [], sells: [], positions: new Map([["t", d("5")]]) }],
  ]);
  const base: Scenario = {
    ops: [buy("X", "b", "12", "100"), sell("Y", "t", "1", "100")],
    books,
    balances: new Map([["b", d("10000")]]),
    cancelTargets: new Map(),
    rowsMax: 4,
  };
  // Pages are asked for with 0 to 11 rows filled: unknown up to 4 (the bound), then only the
  // sweep will be decided, and the decision agrees.
  const sweepFirst = decidedAtMostByPage(base);
  strictEqual(sweepFirst.seen.length, 12);
  deepStrictEqual(sweepFirst.seen.slice(0, 5), Array(5).fill(undefined));
  deepStrictEqual(sweepFirst.seen.slice(5), Array(7).fill(1));
  strictEqual(sweepFirst.decided, 1);
  // A fill-or-kill sweep that is killed fills nothing: what follows it is still decided.
  const killed = decidedAtMostByPage({
    ...base,
    ops: [{ ...buy("X", "b", "13", "100"), tif: "FOK" } as BatchOp, base.ops[1]!],
  });
  deepStrictEqual(new Set(killed.seen), new Set([undefined]));
  strictEqual(killed.decided, 2);
  // Behind a decided operation the sweep is undone at the bound instead: never known early.
  const second = decidedAtMostByPage({ ...base, ops: [base.ops[1]!, base.ops[0]!] });
  deepStrictEqual(new Set(second.seen), new Set([undefined]));
  strictEqual(second.decided, 1);
});

Deno.test("a page out of priority order, or of a book the batch did not read, is refused", () => {
  const scenario: Scenario = {
    ops: [buy("X", "b", "3", "100")],
    books: new Map([["X", {
      buys: [],
      sells: [resting(1, "s", "1", "100"), resting(2, "s", "1", "100")],
      positions: noPositions,
    }]]),
    balances: new Map([["b", d("1000")]]),
    cancelTargets: new Map(),
  };
  const decider = new BatchDecider(
    input(
      scenario,
      new Map([["X", {
        exists: true,
        buys: { rows: [], complete: false },
        sells: { rows: [resting(2, "s", "1", "100")], complete: false },
        positions: noPositions,
      }]]),
    ),
    { rowsMax: 100 },
  );
  deepStrictEqual(decider.run(), { kind: "need_page", sym: "X", side: "sell" });
  throws(() => decider.addPage("X", "sell", [resting(1, "s", "1", "100")], true), /priority/);
  throws(() => decider.addPage("Y", "sell", [], true), /did not read/);
});

/**
 * Two books with stored buys below stored sells (a stored book never crosses), several accounts,
 * whole and fractional shares and prices, then a mix of orders crossing at random depths and
 * cancels: of stored orders, someone else's, unknown ones and ones with nothing open.
 */
function randomScenario(seed: number): Scenario {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const accounts = ["1", "2", "3", "4"];
  const amount = () => pick(["1", "2", "3", "0.5", "1.25", "7"]);
  let nextId = 1;
  const books = new Map<string, Book>();
  const cancelTargets = new Map<bigint, CancelTarget>();
  const storedIds: Array<{ id: number; sym: string; accountId: string }> = [];
  for (const sym of ["X", "Y"]) {
    const buys: RestingOrder[] = [];
    const sells: RestingOrder[] = [];
    for (let i = Math.floor(random() * 30); i > 0; i--) {
      const side: Side = random() < 0.5 ? "buy" : "sell";
      const price = side === "buy"
        ? pick(["95", "96", "97.5", "99"])
        : pick(["100", "100.5", "101", "103"]);
      const order = resting(nextId++, pick(accounts), amount(), price);
      (side === "buy" ? buys : sells).push(order);
      storedIds.push({ id: Number(order.id), sym, accountId: order.accountId });
      cancelTargets.set(order.id, {
        id: order.id,
        sym,
        accountId: order.accountId,
        side,
        limit: order.limit,
        open: order.open,
      });
    }
    const byPriority = (side: Side) => (a: RestingOrder, b: RestingOrder) => {
      const price = Number(formatDecimal(a.limit)) - Number(formatDecimal(b.limit));
      return (side === "buy" ? -price : price) || (a.id < b.id ? -1 : 1);
    };
    buys.sort(byPriority("buy"));
    sells.sort(byPriority("sell"));
    const positions = new Map(accounts.map((id) => [id, d(String(Math.floor(random() * 40)))]));
    books.set(sym, { buys, sells, positions });
  }
  // An order filled or canceled before the batch: a cancel of it has nothing open.
  const doneId = nextId++;
  cancelTargets.set(BigInt(doneId), {
    id: BigInt(doneId),
    sym: "X",
    accountId: "1",
    side: "sell",
    limit: d("100"),
    open: d("0"),
  });
  const ops: BatchOp[] = [];
  for (let i = 1 + Math.floor(random() * 25); i > 0; i--) {
    const sym = pick(["X", "Y"]);
    const roll = random();
    if (roll < 0.2 && storedIds.length > 0) {
      const target = pick(storedIds);
      ops.push(cancel(target.sym, random() < 0.8 ? target.accountId : pick(accounts), target.id));
    } else if (roll < 0.25) {
      ops.push(cancel(sym, "1", pick([doneId, 999_999])));
    } else {
      const shares = pick(["1", "2", "5", "0.5", "12", "40"]);
      const price = pick(["94", "96", "98", "100", "100.5", "102", "104", "110"]);
      ops.push((random() < 0.5 ? buy : sell)(sym, pick(accounts), shares, price));
    }
  }
  const balances = new Map(accounts.map((id) => [id, d(String(Math.floor(random() * 3000)))]));
  return {
    ops,
    books,
    balances,
    cancelTargets,
    ...(random() < 0.3 ? { rowsMax: 1 + Math.floor(random() * 8) } : {}),
  };
}
