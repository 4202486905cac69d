/**
 * A reference exchange for the tests: the rules of docs/PROTOCOL.md, orders with their optional
 * instructions included (time in force, self-trade prevention, client references), written a
 * second time as plainly as possible, to check the server and the batch decision against.
 *
 * Independent of src/ on purpose: it shares no code with the server (its own fixed-point
 * numbers, its own book, its own matching loop), and it decides a fill-or-kill order by first
 * counting what could fill and only then trading, where the server trades and undoes. It runs
 * one operation at a time, the order the protocol promises every answer to agree with.
 *
 * Numbers are bigints in millionths: the tests' amounts and prices have at most two decimals, so
 * every product is exact (asserted).
 */

/** Millionths per unit. */
const SCALE = 1_000_000n;

/** Plain decimal text (at most 6 decimals) -> millionths. */
export function units(text: string): bigint {
  const match = /^(-?)([0-9]+)(?:\.([0-9]{1,6}))?$/.exec(text);
  if (match === null) {
    throw new Error(`reference exchange: not a number it handles: ${text}`);
  }
  const value = BigInt(match[2]!) * SCALE + BigInt((match[3] ?? "").padEnd(6, "0"));
  return match[1] === "-" ? -value : value;
}

/** Millionths -> canonical decimal text (no trailing fractional zeros). */
export function text(value: bigint): string {
  const sign = value < 0n ? "-" : "";
  const magnitude = value < 0n ? -value : value;
  const whole = magnitude / SCALE;
  const fraction = (magnitude % SCALE).toString().padStart(6, "0").replace(/0+$/, "");
  return `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`;
}

function times(a: bigint, b: bigint): bigint {
  const product = a * b;
  if (product % SCALE !== 0n) {
    throw new Error("reference exchange: a product needs more than 6 decimals");
  }
  return product / SCALE;
}

export type RefSide = "buy" | "sell";
export type RefTif = "GTC" | "IOC" | "FOK";
export type RefStp = "none" | "cancel-newest" | "cancel-oldest";

/** What an order asks for; absent instructions are the specification's defaults. */
export interface RefOrderRequest {
  readonly sym: string;
  readonly side: RefSide;
  readonly shares: bigint;
  readonly limit: bigint;
  readonly tif?: RefTif;
  readonly stp?: RefStp;
  readonly ref?: string;
}

export interface RefFill {
  readonly shares: bigint;
  readonly price: bigint;
}

/** An accepted order and everything that happened to it. */
export interface RefOrder {
  readonly id: bigint;
  readonly account: string;
  readonly sym: string;
  readonly side: RefSide;
  readonly shares: bigint;
  readonly limit: bigint;
  readonly tif: RefTif;
  readonly stp: RefStp;
  readonly ref: string | undefined;
  open: bigint;
  canceled: bigint;
  readonly fills: RefFill[];
}

/** What an operation gets, before it is written as XML. */
export type RefOutcome =
  | {
    readonly kind: "opened";
    readonly id: bigint;
    /** Right after it ran: open, canceled at once, its own fills. */
    readonly open: bigint;
    readonly canceled: bigint;
    readonly fills: readonly RefFill[];
  }
  | { readonly kind: "repeat"; readonly id: bigint }
  | { readonly kind: "canceled"; readonly id: bigint; readonly shares: bigint }
  | { readonly kind: "refused"; readonly reason: string; readonly message: string };

/** One exchange, one operation at a time. */
export class ReferenceExchange {
  readonly balances = new Map<string, bigint>();
  /** `account/sym` -> shares. */
  readonly positions = new Map<string, bigint>();
  readonly symbols = new Set<string>();
  /** Every accepted order, in id order. */
  readonly orders: RefOrder[] = [];
  readonly #byId = new Map<bigint, RefOrder>();
  readonly #refs = new Map<string, RefOrder>();
  #nextId: bigint;
  /** How often each rule decided something: a test shows that its sequence exercised them. */
  readonly events = new Map<string, number>();
  /** Every trade, in the order it happened. */
  readonly executions: Array<{ buy: bigint; sell: bigint; shares: bigint; price: bigint }> = [];

  /** `firstId`: the id of the first accepted order (ids then count up by one). */
  constructor(firstId = 1n) {
    this.#nextId = firstId;
  }

  #count(event: string): void {
    this.events.set(event, (this.events.get(event) ?? 0) + 1);
  }

  /** From now on accepted orders are numbered from `id` on. */
  numberFrom(id: bigint): void {
    this.#nextId = id;
  }

  createAccount(id: string, balance: bigint): void {
    this.balances.set(id, balance);
  }

  mint(sym: string, account: string, shares: bigint): void {
    this.symbols.add(sym);
    this.#addShares(account, sym, shares);
  }

  position(account: string, sym: string): bigint {
    return this.positions.get(`${account}/${sym}`) ?? 0n;
  }

  order(id: bigint): RefOrder | undefined {
    return this.#byId.get(id);
  }

  #addShares(account: string, sym: string, shares: bigint): void {
    this.positions.set(`${account}/${sym}`, this.position(account, sym) + shares);
  }

  #addCash(account: string, cash: bigint): void {
    this.balances.set(account, this.balances.get(account)! + cash);
  }

  /** Resting orders of the other side that `side` meets, best first, then oldest. */
  #opposite(sym: string, side: RefSide): RefOrder[] {
    return this.orders
      .filter((o) => o.sym === sym && o.side !== side && o.open > 0n)
      .sort((a, b) => {
        if (a.limit !== b.limit) {
          // A buy meets the lowest sell first; a sell the highest buy.
          return side === "buy" ? (a.limit < b.limit ? -1 : 1) : (a.limit > b.limit ? -1 : 1);
        }
        return a.id < b.id ? -1 : 1;
      });
  }

  #crosses(side: RefSide, limit: bigint, resting: RefOrder): boolean {
    return side === "buy" ? resting.limit <= limit : resting.limit >= limit;
  }

  /** Cancels what `order` has open and gives its reservation back. */
  #cancelOpen(order: RefOrder): bigint {
    const shares = order.open;
    order.open = 0n;
    order.canceled += shares;
    if (order.side === "buy") {
      this.#addCash(order.account, times(shares, order.limit));
    } else {
      this.#addShares(order.account, order.sym, shares);
    }
    return shares;
  }

  /** How many shares an order could fill at once (for fill-or-kill), without changing anything. */
  #fillable(account: string, request: RefOrderRequest): bigint {
    const stp = request.stp ?? "none";
    let fillable = 0n;
    for (const resting of this.#opposite(request.sym, request.side)) {
      if (fillable >= request.shares || !this.#crosses(request.side, request.limit, resting)) {
        break;
      }
      if (stp !== "none" && resting.account === account) {
        if (stp === "cancel-newest") {
          break;
        }
        continue;
      }
      fillable += resting.open;
    }
    return fillable < request.shares ? fillable : request.shares;
  }

  place(account: string, request: RefOrderRequest): RefOutcome {
    const tif = request.tif ?? "GTC";
    const stp = request.stp ?? "none";
    if (request.ref !== undefined) {
      const owner = this.#refs.get(`${account}/${request.ref}`);
      if (owner !== undefined) {
        const same = owner.sym === request.sym && owner.side === request.side &&
          owner.shares === request.shares && owner.limit === request.limit && owner.tif === tif &&
          owner.stp === stp;
        this.#count(same ? "repeat" : "ref_mismatch");
        return same ? { kind: "repeat", id: owner.id } : refused(
          "ref_mismatch",
          `Ref ${request.ref} was already used by order ${owner.id} with other values`,
        );
      }
    }
    if (!this.symbols.has(request.sym)) {
      return refused("unknown_symbol", `Unknown symbol ${request.sym}`);
    }
    if (request.side === "buy") {
      const needed = times(request.shares, request.limit);
      const balance = this.balances.get(account)!;
      if (needed > balance) {
        return refused(
          "insufficient_funds",
          `Insufficient funds: order needs ${text(needed)} but balance is ${text(balance)}`,
        );
      }
    } else {
      const position = this.position(account, request.sym);
      if (request.shares > position) {
        return refused(
          "insufficient_shares",
          `Insufficient shares: order sells ${text(request.shares)} of ${request.sym} but ` +
            `position is ${text(position)}`,
        );
      }
    }
    if (tif === "FOK") {
      const fillable = this.#fillable(account, request);
      if (fillable < request.shares) {
        this.#count("fok_killed");
        return refused(
          "fill_or_kill",
          `Fill or kill: only ${text(fillable)} of ${
            text(request.shares)
          } shares could fill at once; ` +
            "nothing was done",
        );
      }
    }
    const order: RefOrder = {
      id: this.#nextId++,
      account,
      sym: request.sym,
      side: request.side,
      shares: request.shares,
      limit: request.limit,
      tif,
      stp,
      ref: request.ref,
      open: request.shares,
      canceled: 0n,
      fills: [],
    };
    // The reservation, as for any limit order.
    if (order.side === "buy") {
      this.#addCash(account, -times(order.shares, order.limit));
    } else {
      this.#addShares(account, order.sym, -order.shares);
    }
    let stopped = false;
    for (const resting of this.#opposite(order.sym, order.side)) {
      if (order.open === 0n || !this.#crosses(order.side, order.limit, resting)) {
        break;
      }
      if (stp !== "none" && resting.account === account) {
        if (stp === "cancel-newest") {
          this.#count("stp_cancel_newest");
          stopped = true;
          break;
        }
        this.#count("stp_cancel_oldest");
        this.#cancelOpen(resting);
        continue;
      }
      const shares = order.open < resting.open ? order.open : resting.open;
      const price = resting.limit;
      order.open -= shares;
      resting.open -= shares;
      order.fills.push({ shares, price });
      resting.fills.push({ shares, price });
      const buyer = order.side === "buy" ? order : resting;
      const seller = order.side === "buy" ? resting : order;
      this.executions.push({ buy: buyer.id, sell: seller.id, shares, price });
      this.#addCash(seller.account, times(shares, price));
      this.#addShares(buyer.account, order.sym, shares);
      // The buyer reserved its own limit; paying less gives the difference back.
      this.#addCash(buyer.account, times(shares, buyer.limit - price));
    }
    this.orders.push(order);
    this.#byId.set(order.id, order);
    if (order.ref !== undefined) {
      this.#refs.set(`${account}/${order.ref}`, order);
    }
    let canceled = 0n;
    if ((tif !== "GTC" || stopped) && order.open > 0n) {
      this.#count(stopped ? "rest_canceled_stp" : "rest_canceled_ioc");
      canceled = this.#cancelOpen(order);
    }
    if (tif === "FOK") {
      this.#count("fok_filled");
    }
    return { kind: "opened", id: order.id, open: order.open, canceled, fills: [...order.fills] };
  }

  cancel(account: string, id: bigint): RefOutcome {
    const order = this.#byId.get(id);
    if (order === undefined || order.account !== account) {
      return refused("unknown_order", "Unknown transaction id for this account");
    }
    if (order.open === 0n) {
      return refused("nothing_open", "Order has nothing open to cancel");
    }
    return { kind: "canceled", id, shares: this.#cancelOpen(order) };
  }
}

function refused(reason: string, message: string): RefOutcome {
  return { kind: "refused", reason, message };
}

/** An order's state in the compact form of tests/trading/exchange_fixture.ts `show` (times `T`). */
export function statusChildren(order: RefOrder): string[] {
  const children: string[] = [];
  if (order.open > 0n) {
    children.push(`open{shares=${text(order.open)}}`);
  }
  if (order.canceled > 0n) {
    children.push(`canceled{shares=${text(order.canceled)},time=T}`);
  }
  for (const fill of order.fills) {
    children.push(`executed{shares=${text(fill.shares)},price=${text(fill.price)},time=T}`);
  }
  return children;
}
