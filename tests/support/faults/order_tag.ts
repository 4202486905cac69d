/**
 * Orders that can be found without their id: each order's limit carries a unique fractional tag
 * (`100.0000121`: tag 12, always ending in 1 so the decimal has no trailing zero to be written
 * differently in an answer), so (account, sym, amount, limit) names exactly one order of a run.
 */

/** Digits of the tag (before its final 1): a million orders per run before tags repeat. */
const TAG_DIGITS = 6;

/** The limit price `whole.<tag><1>` for a tag number below 10^6. */
export function taggedLimit(whole: number, tag: number): string {
  if (!Number.isInteger(tag) || tag < 0 || tag >= 10 ** TAG_DIGITS) {
    throw new RangeError(`Cannot tag an order: tag ${tag} is outside 0..${10 ** TAG_DIGITS - 1}`);
  }
  return `${whole}.${String(tag).padStart(TAG_DIGITS, "0")}1`;
}
