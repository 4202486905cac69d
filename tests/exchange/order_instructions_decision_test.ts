/**
 * The batch decision (src/exchange/book_batch.ts) with the optional order instructions: random
 * batches of orders (time in force, self-trade prevention, references new, stored and repeated
 * within the batch), cancels and several books, decided in one batch with pages of one to three
 * rows (so that matches stop for pages and resume, and fill-or-kill orders are undone across
 * pages) and a random rows bound (so that orders are undone for the next batch). Each decision
 * must equal what the reference exchange (tests/support/reference_exchange.ts, an independent
 * implementation run one operation at a time) makes of the operations the batch decided:
 * every answer, every trade in order, every order's open and canceled shares, every balance and
 * position.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import {
  type BatchDecision,
  type BatchOp,
  type CancelTarget,
  NEW_ORDER_BASE,
  refKey,
  type RefOwner,
  type StoredBook,
} from "../../src/exchange/batch_types.ts";
import { BatchDecider } from "../../src/exchange/book_batch.ts";
import {
  add,
  type Decimal,
  formatDecimal,
  parseDecimal,
  ZERO,
} from "../../src/exchange/decimal.ts";
import type { RestingOrder, Side } from "../../src/exchange/matching.ts";
import {
  ReferenceExchange,
  type RefOrder,
  type RefStp,
  type RefTif,
  text,
  units,
} from "../support/reference_exchange.ts";
import { seededRandom } from "../../scripts/support/seeded_random.ts";

const ACCOUNTS = ["1", "2", "3"];
const SYMBOLS = ["X", "Y"];
const RUNS = 400;

function d(value: bigint): Decimal {
  const parsed = parseDecimal(text(value));
  if (typeof parsed === "string") throw new Error(text(value));
  return parsed;
}

/** Millionths of a decision's decimal. */
function u(value: Decimal): bigint {
  return units(formatDecimal(value));
}

/** One random case: a stored exchange (the reference's state) and a batch of operations. */
function scenario(seed: number) {
  const random = seededRandom(seed);
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const model = new ReferenceExchange(1n);
  for (const id of ACCOUNTS) {
    model.createAccount(id, units(String(int(20, 400))));
  }
  for (const sym of SYMBOLS) {
    for (const id of ACCOUNTS) {
      model.mint(sym, id, units(String(int(0, 40))));
    }
  }
  // The stored book: orders that do not cross (buys below 10, sells from 10), some with refs.
  let refs = 0;
  for (let i = int(0, 24); i > 0; i--) {
    const side: Side = random() < 0.5 ? "buy" : "sell";
    const limit = side === "buy"
      ? units("9") + BigInt(int(0, 3)) * units("0.25")
      : units("10") + BigInt(int(0, 3)) * units("0.25");
    model.place(pick(ACCOUNTS), {
      sym: pick(SYMBOLS),
      side,
      shares: units(String(int(1, 6))),
      limit,
      ...(random() < 0.3 ? { ref: `s${refs++}` } : {}),
    });
  }
  const stored = model.orders.map((o) => ({ ...o, fills: [...o.fills] }));
  const balances = new Map(model.balances);
  const positions = new Map(model.positions);
  model.numberFrom(NEW_ORDER_BASE);

  const ops: BatchOp[] = [];
  for (let i = int(1, 16); i > 0; i--) {
    const account = pick(ACCOUNTS);
    const sym = pick(SYMBOLS);
    const ownStored = stored.filter((o) => o.account === account);
    if (random() < 0.15 && stored.length > 0) {
      const target = random() < 0.8 && ownStored.length > 0 ? pick(ownStored) : pick(stored);
      ops.push({ kind: "cancel", sym: target.sym, accountId: account, orderId: target.id });
      continue;
    }
    const side: Side = random() < 0.5 ? "buy" : "sell";
    const order: BatchOp = {
      kind: "order",
      sym,
      accountId: account,
      side,
      shares: d(units(String(int(1, 12))) + (random() < 0.2 ? units("0.5") : 0n)),
      limit: d(units("9.25") + BigInt(int(0, 6)) * units("0.25")),
      ...(random() < 0.7 ? { tif: pick<RefTif>(["GTC", "IOC", "FOK"]) } : {}),
      ...(random() < 0.7 ? { stp: pick<RefStp>(["none", "cancel-newest", "cancel-oldest"]) } : {}),
      ...(random() < 0.4 ? { ref: `r${int(0, 4)}` } : {}),
    };
    if (random() < 0.1 && ownStored.some((o) => o.ref !== undefined)) {
      // A retry of a stored order, exactly.
      const owner = pick(ownStored.filter((o) => o.ref !== undefined));
      ops.push({
        kind: "order",
        sym: owner.sym,
        accountId: account,
        side: owner.side,
        shares: d(owner.shares),
        limit: d(owner.limit),
        ref: owner.ref!,
      });
    } else if (random() < 0.1 && ops.some((op) => op.kind === "order" && op.ref !== undefined)) {
      // A retry of an order earlier in the batch, exactly.
      ops.push(pick(ops.filter((op) => op.kind === "order" && op.ref !== undefined)));
    } else {
      ops.push(order);
    }
  }
  return { stored, balances, positions, ops, model, rowsMax: int(1, 30), pageRows: int(1, 3) };
}

/** The stored side of a book, in priority order. */
function sideOf(stored: readonly RefOrder[], sym: string, side: Side): RestingOrder[] {
  return stored
    .filter((o) => o.sym === sym && o.side === side && o.open > 0n)
    .sort((a, b) =>
      a.limit !== b.limit
        ? (side === "buy" ? (a.limit > b.limit ? -1 : 1) : (a.limit < b.limit ? -1 : 1))
        : (a.id < b.id ? -1 : 1)
    )
    .map((o) => ({ id: o.id, accountId: o.account, open: d(o.open), limit: d(o.limit) }));
}

/** Decides the batch the way src/db/book_batch.ts drives it, `pageRows` rows a page. */
function decide(c: ReturnType<typeof scenario>): BatchDecision {
  const whole = new Map<string, { buy: RestingOrder[]; sell: RestingOrder[] }>();
  const books = new Map<string, StoredBook>();
  const read = new Map<string, { buy: number; sell: number }>();
  for (const sym of SYMBOLS) {
    const sides = { buy: sideOf(c.stored, sym, "buy"), sell: sideOf(c.stored, sym, "sell") };
    whole.set(sym, sides);
    read.set(sym, { buy: Math.min(c.pageRows, sides.buy.length), sell: 0 });
    read.get(sym)!.sell = Math.min(c.pageRows, sides.sell.length);
    const positions = new Map<string, Decimal>();
    for (const id of ACCOUNTS) {
      positions.set(id, d(c.positions.get(`${id}/${sym}`) ?? 0n));
    }
    books.set(sym, {
      exists: true,
      buys: {
        rows: sides.buy.slice(0, c.pageRows),
        complete: sides.buy.length <= c.pageRows,
      },
      sells: {
        rows: sides.sell.slice(0, c.pageRows),
        complete: sides.sell.length <= c.pageRows,
      },
      positions,
    });
  }
  const cancelTargets = new Map<bigint, CancelTarget>();
  const storedRefs = new Map<string, RefOwner>();
  for (const o of c.stored) {
    cancelTargets.set(o.id, {
      id: o.id,
      sym: o.sym,
      accountId: o.account,
      side: o.side,
      limit: d(o.limit),
      open: d(o.open),
    });
    if (o.ref !== undefined) {
      storedRefs.set(refKey(o.account, o.ref), {
        order: o.id,
        sym: o.sym,
        side: o.side,
        shares: d(o.shares),
        limit: d(o.limit),
        tif: o.tif,
        stp: o.stp,
      });
    }
  }
  const balances = new Map([...c.balances].map(([id, b]) => [id, d(b)]));
  const decider = new BatchDecider({
    ops: c.ops,
    books,
    balances,
    cancelTargets,
    storedRefs,
  }, { rowsMax: c.rowsMax });
  for (let pages = 0; pages < 1000; pages++) {
    const step = decider.run();
    if (step.kind === "decided") {
      return step;
    }
    const rows = whole.get(step.sym)![step.side];
    const from = read.get(step.sym)![step.side];
    const to = Math.min(rows.length, from + c.pageRows);
    read.get(step.sym)![step.side] = to;
    decider.addPage(step.sym, step.side, rows.slice(from, to), to >= rows.length);
  }
  throw new Error("the decision never finished");
}

/** Compares one case's decision with the reference exchange run over the decided operations. */
function check(seed: number): Set<string> {
  const c = scenario(seed);
  const decision = decide(c);
  const decided = c.ops.slice(0, decision.results.length);
  ok(decided.length > 0, "a batch decides at least its first operation");
  const kinds = new Set<string>();
  decided.forEach((op, i) => {
    const result = decision.results[i]!;
    const where = `seed ${seed}, operation ${i}: ${
      JSON.stringify(op, (_, v) =>
        typeof v === "bigint"
          ? v.toString()
          : typeof v === "object" && v !== null && "units" in v
          ? formatDecimal(v as Decimal)
          : v)
    }`;
    if (op.kind === "cancel") {
      const expected = c.model.cancel(op.accountId, op.orderId);
      if (expected.kind === "refused") {
        deepStrictEqual(result, { kind: "refused", refusal: { kind: expected.reason } }, where);
      } else {
        ok(result.kind === "canceled", where);
        deepStrictEqual(u(result.shares), (expected as { shares: bigint }).shares, where);
      }
      return;
    }
    const expected = c.model.place(op.accountId, {
      sym: op.sym,
      side: op.side,
      shares: u(op.shares),
      limit: u(op.limit),
      ...(op.tif === undefined ? {} : { tif: op.tif }),
      ...(op.stp === undefined ? {} : { stp: op.stp }),
      ...(op.ref === undefined ? {} : { ref: op.ref }),
    });
    switch (expected.kind) {
      case "refused":
        deepStrictEqual(
          result.kind === "refused" ? result.refusal.kind : result.kind,
          expected.reason,
          where,
        );
        kinds.add(expected.reason);
        return;
      case "repeat":
        deepStrictEqual(result, { kind: "repeat", order: expected.id }, where);
        kinds.add("repeat");
        return;
      case "opened": {
        ok(result.kind === "opened", `${where}: ${JSON.stringify(result.kind)}`);
        deepStrictEqual(NEW_ORDER_BASE + BigInt(result.ordinal), expected.id, where);
        if (op.tif !== undefined || op.stp !== undefined || op.ref !== undefined) {
          const detail = result.detail!;
          deepStrictEqual(
            {
              open: u(detail.open),
              canceled: u(detail.canceled),
              fills: decision.executions.slice(detail.executionsFrom, detail.executionsTo)
                .map((x) => ({ shares: u(x.shares), price: u(x.price) })),
            },
            { open: expected.open, canceled: expected.canceled, fills: expected.fills },
            where,
          );
        } else {
          deepStrictEqual(result.detail, undefined, where);
        }
        kinds.add("opened");
        return;
      }
      default:
        throw new Error(`an order answered ${expected.kind}`);
    }
  });
  // The end state: trades, orders, balances and positions.
  deepStrictEqual(
    decision.executions.map((x) => ({
      buy: x.buyRef,
      sell: x.sellRef,
      shares: u(x.shares),
      price: u(x.price),
    })),
    c.model.executions,
    `seed ${seed}: executions`,
  );
  for (const order of c.model.orders) {
    let state: { open: bigint; canceled: bigint };
    if (order.id >= NEW_ORDER_BASE) {
      const record = decision.newOrders[Number(order.id - NEW_ORDER_BASE)]!;
      deepStrictEqual(
        [record.tif, record.stp, record.ref],
        [order.tif, order.stp, order.ref],
        `seed ${seed}: order ${order.id}`,
      );
      state = { open: u(record.open), canceled: u(record.canceled) };
    } else {
      const before = c.stored.find((o) => o.id === order.id)!;
      const change = decision.storedChanges.get(order.id);
      state = change === undefined
        ? { open: before.open, canceled: before.canceled }
        : { open: u(change.open), canceled: before.canceled + u(change.canceled) };
    }
    deepStrictEqual(
      state,
      { open: order.open, canceled: order.canceled },
      `seed ${seed}: order ${order.id}`,
    );
  }
  deepStrictEqual(decision.newOrders.length, c.model.orders.length - c.stored.length);
  for (const id of ACCOUNTS) {
    deepStrictEqual(
      c.balances.get(id)! + u(decision.cash.get(id) ?? ZERO),
      c.model.balances.get(id),
      `seed ${seed}: balance of ${id}`,
    );
    for (const sym of SYMBOLS) {
      const delta = decision.shares.get(sym)?.get(id) ?? ZERO;
      deepStrictEqual(
        (c.positions.get(`${id}/${sym}`) ?? 0n) + u(add(delta, ZERO)),
        c.model.position(id, sym),
        `seed ${seed}: position of ${id} in ${sym}`,
      );
    }
  }
  for (const event of c.model.events.keys()) {
    kinds.add(event);
  }
  return kinds;
}

Deno.test("BatchDecider decides orders with instructions as the reference exchange does, one at a time, across pages and the rows bound", () => {
  const seen = new Set<string>();
  const base = Number(Deno.env.get("DECISION_SEED") ?? 7000);
  for (let run = 0; run < RUNS; run++) {
    for (const kind of check(base + run)) {
      seen.add(kind);
    }
  }
  // The runs exercised every rule, so that agreeing proves something about each.
  for (
    const kind of [
      "opened",
      "repeat",
      "ref_mismatch",
      "fill_or_kill",
      "fok_killed",
      "stp_cancel_newest",
      "stp_cancel_oldest",
      "rest_canceled_ioc",
      "insufficient_funds",
      "insufficient_shares",
    ]
  ) {
    ok(seen.has(kind), `no ${kind} in ${[...seen].join(", ")}`);
  }
});
