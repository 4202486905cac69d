/**
 * Why an operation was refused, as a typed value: the order engine decides it, the answer layer
 * (src/xml/answers.ts) turns it into the `<error>` text. Nothing parses refusal text.
 */
import type { Decimal } from "./decimal.ts";

/** A business refusal of an order or a cancel: nothing of the operation took effect. */
export type Refusal =
  | { readonly kind: "unknown_symbol"; readonly sym: string }
  | { readonly kind: "insufficient_funds"; readonly needed: Decimal; readonly balance: Decimal }
  | {
    readonly kind: "insufficient_shares";
    readonly sym: string;
    readonly needed: Decimal;
    readonly position: Decimal;
  }
  /** No such order for this account (also for another account's order: ids stay secret). */
  | { readonly kind: "unknown_order" }
  /** The order is fully executed or already canceled. */
  | { readonly kind: "nothing_open" }
  /** A fill-or-kill order could fill only `filled` of its `shares` at once: nothing happened. */
  | { readonly kind: "fill_or_kill"; readonly filled: Decimal; readonly shares: Decimal }
  /** The account's order `orderId` already has this reference, with other values. */
  | { readonly kind: "ref_mismatch"; readonly ref: string; readonly orderId: bigint };
