/**
 * Validation of the values clients send. Pure: each check returns the typed value or a
 * human-readable reason that goes into the `<error>` answer.
 */
import { type Decimal, isPositive, isZero, parseDecimal } from "./decimal.ts";
import { DECIMAL_FRACTION_DIGITS_MAX, DECIMAL_INTEGER_DIGITS_MAX } from "./decimal.ts";
import {
  ORDER_REF_LENGTH_MAX,
  SELF_TRADE_MODES,
  type SelfTradeMode,
  type TimeInForce,
  TIMES_IN_FORCE,
} from "./order_options.ts";

/** Longest account id accepted, in digits. */
export const ACCOUNT_ID_DIGITS_MAX = 32;
/** Longest symbol accepted, in characters. */
export const SYMBOL_LENGTH_MAX = 32;
/** Longest transaction id accepted, in digits (ids are PostgreSQL bigints). */
export const ORDER_ID_DIGITS_MAX = 18;

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function refuse<T>(message: string): Checked<T> {
  return { ok: false, message };
}

const DIGITS = /^[0-9]+$/;
const SYMBOL = /^[A-Za-z0-9]+$/;

/** Account ids are kept verbatim: `007` and `7` are different accounts. */
export function checkAccountId(raw: string | undefined): Checked<string> {
  if (raw === undefined) {
    return refuse("Missing attribute id");
  }
  if (!DIGITS.test(raw)) {
    return refuse(`Account id must be decimal digits, got ${JSON.stringify(raw)}`);
  }
  if (raw.length > ACCOUNT_ID_DIGITS_MAX) {
    return refuse(`Account id exceeds ${ACCOUNT_ID_DIGITS_MAX} digits`);
  }
  return ok(raw);
}

export function checkSymbol(raw: string | undefined): Checked<string> {
  if (raw === undefined) {
    return refuse("Missing attribute sym");
  }
  if (!SYMBOL.test(raw)) {
    return refuse(`Symbol must be ASCII letters or digits, got ${JSON.stringify(raw)}`);
  }
  if (raw.length > SYMBOL_LENGTH_MAX) {
    return refuse(`Symbol exceeds ${SYMBOL_LENGTH_MAX} characters`);
  }
  return ok(raw);
}

export function checkOrderId(raw: string | undefined): Checked<string> {
  if (raw === undefined) {
    return refuse("Missing attribute id");
  }
  if (!DIGITS.test(raw) || raw.length > ORDER_ID_DIGITS_MAX) {
    return refuse("Unknown transaction id");
  }
  // Ids are compared as bigints: "007" names transaction 7.
  return ok(BigInt(raw).toString());
}

function decimal(raw: string | undefined, what: string): Checked<Decimal> {
  if (raw === undefined) {
    return refuse(`Missing ${what}`);
  }
  const parsed = parseDecimal(raw);
  if (parsed === "syntax") {
    return refuse(
      `${capitalize(what)} must be a plain decimal number like 12 or 0.5, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  if (parsed === "too_many_digits") {
    return refuse(
      `${capitalize(what)} exceeds ${DECIMAL_INTEGER_DIGITS_MAX} integer or ` +
        `${DECIMAL_FRACTION_DIGITS_MAX} fractional digits`,
    );
  }
  return ok(parsed);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A new account's balance: zero or more. */
export function checkBalance(raw: string | undefined): Checked<Decimal> {
  const checked = decimal(raw, "balance");
  if (checked.ok && checked.value.units < 0n) {
    return refuse("Balance must not be negative");
  }
  return checked;
}

/** Shares minted into an account: more than zero. */
export function checkShares(raw: string | undefined): Checked<Decimal> {
  const checked = decimal(raw, "share amount");
  if (checked.ok && !isPositive(checked.value)) {
    return refuse("Share amount must be greater than zero");
  }
  return checked;
}

/** An order's signed amount: positive buys, negative sells, never zero. */
export function checkOrderAmount(raw: string | undefined): Checked<Decimal> {
  const checked = decimal(raw, "amount");
  if (checked.ok && isZero(checked.value)) {
    return refuse("Amount must not be zero");
  }
  return checked;
}

/** An order's limit price: more than zero. */
export function checkLimitPrice(raw: string | undefined): Checked<Decimal> {
  const checked = decimal(raw, "limit");
  if (checked.ok && !isPositive(checked.value)) {
    return refuse("Limit must be greater than zero");
  }
  return checked;
}

/** `tif`: absent is GTC, the specification's order. */
export function checkTimeInForce(raw: string | undefined): Checked<TimeInForce> {
  if (raw === undefined) {
    return ok("GTC");
  }
  const found = TIMES_IN_FORCE.find((tif) => tif === raw);
  if (found === undefined) {
    return refuse(`Time in force must be GTC, IOC or FOK, got ${JSON.stringify(raw)}`);
  }
  return ok(found);
}

/** `stp`: absent is none, the specification's rule (self-trades settle). */
export function checkSelfTradeMode(raw: string | undefined): Checked<SelfTradeMode> {
  if (raw === undefined) {
    return ok("none");
  }
  const found = SELF_TRADE_MODES.find((mode) => mode === raw);
  if (found === undefined) {
    return refuse(
      `Self-trade prevention must be none, cancel-newest or cancel-oldest, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return ok(found);
}

const ORDER_REF = /^[A-Za-z0-9._:-]+$/;

/**
 * `ref`: a client's own name for an order, unique per account; absent is no reference. Plain
 * ASCII so that it is echoed and compared byte for byte, whatever the client's XML escaping.
 */
export function checkOrderRef(raw: string | undefined): Checked<string | undefined> {
  if (raw === undefined) {
    return ok(undefined);
  }
  if (raw.length === 0 || raw.length > ORDER_REF_LENGTH_MAX || !ORDER_REF.test(raw)) {
    return refuse(
      `Ref must be 1 to ${ORDER_REF_LENGTH_MAX} ASCII letters, digits, '.', '_', ':' or '-', got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return ok(raw);
}
