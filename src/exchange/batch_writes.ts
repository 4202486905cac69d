/**
 * What one committed batch writes, as one typed settlement: built from the batch's decision by a
 * pure function, turned into the parameters of `exchange_apply_batch` in one place
 * (src/db/book_batch.ts), instead of twenty parallel arrays assembled at the call. Each field is
 * named after its group of the function's parameters (`changedOrders`: `p_changed_*`), so that
 * the TypeScript and the SQL call the same data the same way.
 */
import type { BatchDecision } from "./batch_types.ts";
import { type Decimal, isPositive, negate } from "./decimal.ts";
import type { SelfTradeMode, TimeInForce } from "./order_options.ts";

/**
 * A balance the decision relied on, as it read it: the apply call checks it under the account
 * locks, since another book's batch may have changed it since.
 */
export interface CheckedBalance {
  readonly accountId: string;
  readonly balance: Decimal;
}

/** An order the batch creates; `amount` is signed (negative sells), as the table stores it. */
export interface NewOrderWrite {
  readonly sym: string;
  readonly accountId: string;
  readonly amount: Decimal;
  readonly limit: Decimal;
  /** What stays open once the whole batch has run. */
  readonly open: Decimal;
  /** What the batch canceled of it (IOC, self-trade prevention), or zero. */
  readonly canceled: Decimal;
  readonly tif: TimeInForce;
  readonly stp: SelfTradeMode;
  /** The client's reference, unique per account (the database's unique index holds it). */
  readonly ref: string | undefined;
}

/** A stored order's new open and newly canceled shares. */
export interface ChangedOrderWrite {
  readonly id: bigint;
  readonly open: Decimal;
  readonly canceled: Decimal;
}

/** A trade; refs are stored ids or the batch's new orders (see `NEW_ORDER_BASE`). */
export interface ExecutionWrite {
  readonly buyRef: bigint;
  readonly sellRef: bigint;
  readonly shares: Decimal;
  readonly price: Decimal;
}

/** A net change of an account's cash. */
export interface CashWrite {
  readonly accountId: string;
  readonly delta: Decimal;
}

/** A net change of an account's position in a symbol. */
export interface PositionWrite {
  readonly accountId: string;
  readonly sym: string;
  readonly delta: Decimal;
}

/** Everything one batch writes, and the locks it takes to write it. */
export interface BatchWrites {
  /** `p_syms`: the books of the batch (their symbol rows are locked). */
  readonly syms: readonly string[];
  /**
   * `p_lock_ids`: the accounts the apply call locks, every one whose balance or position
   * changes, or whose balance was relied on.
   */
  readonly lockIds: readonly string[];
  /** `p_check_*`: the balances the decision relied on (its `reliedBalances`). */
  readonly checkedBalances: readonly CheckedBalance[];
  /** `p_new_*`. */
  readonly newOrders: readonly NewOrderWrite[];
  /** `p_changed_*`: the stored orders that fills or cancels changed. */
  readonly changedOrders: readonly ChangedOrderWrite[];
  /** `p_exec_*`. */
  readonly executions: readonly ExecutionWrite[];
  /** `p_cash_*`. */
  readonly cash: readonly CashWrite[];
  /**
   * `p_credit_*` and `p_debit_*`: positions that grow (inserted if missing) apart from those
   * that shrink (which must exist): the database applies them differently.
   */
  readonly positionCredits: readonly PositionWrite[];
  readonly positionDebits: readonly PositionWrite[];
}

/** The writes of a decided batch over the books `syms`. */
export function batchWrites(syms: readonly string[], decision: BatchDecision): BatchWrites {
  const positions: PositionWrite[] = [];
  for (const [sym, bySym] of decision.shares) {
    for (const [accountId, delta] of bySym) {
      positions.push({ accountId, sym, delta });
    }
  }
  const lockIds = new Set([...decision.cash.keys(), ...decision.reliedBalances.keys()]);
  for (const position of positions) {
    lockIds.add(position.accountId);
  }
  return {
    syms,
    lockIds: [...lockIds],
    checkedBalances: [...decision.reliedBalances].map(([accountId, balance]) => ({
      accountId,
      balance,
    })),
    newOrders: decision.newOrders.map((order) => ({
      sym: order.sym,
      accountId: order.accountId,
      amount: order.side === "buy" ? order.shares : negate(order.shares),
      limit: order.limit,
      open: order.open,
      canceled: order.canceled,
      tif: order.tif,
      stp: order.stp,
      ref: order.ref,
    })),
    changedOrders: [...decision.storedChanges].map(([id, change]) => ({
      id,
      open: change.open,
      canceled: change.canceled,
    })),
    executions: decision.executions.map((x) => ({
      buyRef: x.buyRef,
      sellRef: x.sellRef,
      shares: x.shares,
      price: x.price,
    })),
    cash: [...decision.cash].map(([accountId, delta]) => ({ accountId, delta })),
    positionCredits: positions.filter((p) => isPositive(p.delta)),
    positionDebits: positions.filter((p) => !isPositive(p.delta)),
  };
}
