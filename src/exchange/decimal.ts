/**
 * Exact decimal numbers for money and shares: an integer count of units of 10^-scale.
 *
 * Amounts never pass through JavaScript floating point. The server needs only comparison,
 * addition, subtraction and multiplication, all exact on BigInt; division never happens.
 */

/** `units * 10^-scale`, for example 145.67 is `{ units: 14567n, scale: 2 }`. */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

/** Bounds on the numbers clients may send; results of arithmetic may be longer. */
export const DECIMAL_INTEGER_DIGITS_MAX = 18;
export const DECIMAL_FRACTION_DIGITS_MAX = 12;

/**
 * Plain decimal notation only: optional minus, digits, optionally a point followed by digits.
 * No exponent, no plus sign, no leading or trailing point, no spaces.
 */
const DECIMAL_PATTERN = /^(-?)([0-9]+)(?:\.([0-9]+))?$/;

export const ZERO: Decimal = { units: 0n, scale: 0 };

/** Why a text is not an acceptable decimal. */
export type DecimalProblem = "syntax" | "too_many_digits";

/** Parses plain decimal text, bounded to the digit limits above. */
export function parseDecimal(text: string): Decimal | DecimalProblem {
  const match = DECIMAL_PATTERN.exec(text);
  if (match === null) {
    return "syntax";
  }
  const sign = match[1]!;
  // Leading integer zeros and trailing fractional zeros do not change the value, so they do
  // not count against the digit limits.
  const integer = match[2]!.replace(/^0+(?=[0-9])/, "");
  const fraction = (match[3] ?? "").replace(/0+$/, "");
  if (
    integer.length > DECIMAL_INTEGER_DIGITS_MAX || fraction.length > DECIMAL_FRACTION_DIGITS_MAX
  ) {
    return "too_many_digits";
  }
  const units = BigInt(integer + fraction);
  return normalize({ units: sign === "-" ? -units : units, scale: fraction.length });
}

/** Parses decimal text that is known to be valid (PostgreSQL NUMERIC output); throws if not. */
export function decimalFromDatabase(text: string): Decimal {
  const match = DECIMAL_PATTERN.exec(text);
  if (match === null) {
    throw new TypeError(`Database returned a non-decimal number: ${JSON.stringify(text)}`);
  }
  const fraction = match[3] ?? "";
  const units = BigInt(match[2]! + fraction);
  return normalize({ units: match[1] === "-" ? -units : units, scale: fraction.length });
}

/** Drops trailing fractional zeros so that equal values have equal representations. */
function normalize(value: Decimal): Decimal {
  // Whole numbers (most share counts) have no fractional zeros to drop: no BigInt division.
  if (value.scale === 0) {
    return value.units === 0n ? ZERO : value;
  }
  let { units, scale } = value;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale--;
  }
  return units === 0n ? ZERO : { units, scale };
}

/**
 * Both values in units of the finer scale. Equal scales (the common case: prices of one book,
 * whole share counts) skip the BigInt power and products, here and in `compare`: a million
 * same-scale compare + add + subtract took 0.1 s instead of 0.8-1.1 s (a sweep's decision makes
 * several per fill).
 */
function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  if (a.scale === b.scale) {
    return [a.units, b.units, a.scale];
  }
  const scale = Math.max(a.scale, b.scale);
  return [
    a.units * 10n ** BigInt(scale - a.scale),
    b.units * 10n ** BigInt(scale - b.scale),
    scale,
  ];
}

export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  if (a.scale === b.scale) {
    return a.units < b.units ? -1 : a.units > b.units ? 1 : 0;
  }
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return normalize({ units: x + y, scale });
}

export function subtract(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = align(a, b);
  return normalize({ units: x - y, scale });
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return normalize({ units: a.units * b.units, scale: a.scale + b.scale });
}

export function negate(a: Decimal): Decimal {
  return normalize({ units: -a.units, scale: a.scale });
}

export function abs(a: Decimal): Decimal {
  return a.units < 0n ? negate(a) : a;
}

export function min(a: Decimal, b: Decimal): Decimal {
  return compare(a, b) <= 0 ? a : b;
}

export function isZero(a: Decimal): boolean {
  return a.units === 0n;
}

export function isPositive(a: Decimal): boolean {
  return a.units > 0n;
}

/** Plain notation for answers: no exponent, no trailing fractional zeros (`125`, `0.5`). */
export function formatDecimal(value: Decimal): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString();
  if (value.scale === 0) {
    return (negative ? "-" : "") + digits;
  }
  const padded = digits.padStart(value.scale + 1, "0");
  const integer = padded.slice(0, padded.length - value.scale);
  const fraction = padded.slice(padded.length - value.scale);
  return `${negative ? "-" : ""}${integer}.${fraction}`;
}

/** Canonical text of a NUMERIC read from the database (`100.500` becomes `100.5`). */
export function formatDatabaseDecimal(text: string): string {
  return formatDecimal(decimalFromDatabase(text));
}
