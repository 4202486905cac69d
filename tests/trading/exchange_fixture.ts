/**
 * Shared helpers for the trading tests: send requests through real sockets, read answers
 * exactly (attribute values untrimmed), and read balances and positions as exact decimal text.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { parseAnswer } from "../../src/client/parse_answer.ts";
import type { Sql } from "../../src/db/database.ts";
import type { Element } from "../support/xml.ts";

export type { Element };

/** Parses an answer with attribute values kept verbatim, so that echoes compare exactly. */
export const answerElements: (xml: string) => Element[] = parseAnswer;

/** Whole seconds since the epoch, now. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Compact form `name{a=1,b=2}[children]`; a `time` attribute is checked to be whole seconds
 * within `window` (inclusive, with one second of slack) and then written as `T`.
 */
export function show(element: Element, window?: { from: number; to: number }): string {
  const attrs = Object.entries(element.attributes).map(([key, value]) => {
    if (key === "time" && window !== undefined) {
      ok(/^[0-9]+$/.test(value), `time must be whole seconds, got ${JSON.stringify(value)}`);
      const seconds = Number(value);
      ok(
        seconds >= window.from - 1 && seconds <= window.to + 1,
        `time ${value} is not within [${window.from}, ${window.to}]`,
      );
      return `${key}=T`;
    }
    return `${key}=${value}`;
  }).join(",");
  let out = `${element.name}{${attrs}}`;
  if (element.children.length > 0) {
    out += `[${element.children.map((child) => show(child, window)).join(" ")}]`;
  }
  return out;
}

/**
 * A window of time from now until the moment a `time` is checked (`to` reads the clock), or
 * until `end()` is called, for checking `time` attributes.
 */
export function timeWindow(): {
  from: number;
  readonly to: number;
  end(): { from: number; to: number };
} {
  const from = nowSeconds();
  return {
    from,
    get to() {
      return nowSeconds();
    },
    end() {
      return { from, to: nowSeconds() };
    },
  };
}

/** Sends one request (text framing) and returns the answer's elements. */
export async function send(port: number, xml: string): Promise<Element[]> {
  return answerElements(await sendText(port, xml));
}

/** Sends a `<create>` holding `inner`; returns the answers in compact form. */
export async function create(port: number, inner: string): Promise<string[]> {
  return (await send(port, `<create>${inner}</create>`)).map((element) => show(element));
}

/** Sends a `<transactions id=account>` holding `inner`. */
export function transact(port: number, account: string, inner: string): Promise<Element[]> {
  return send(port, `<transactions id="${account}">${inner}</transactions>`);
}

/** Creates accounts (id -> balance), asserting each was created. */
export async function createAccounts(
  port: number,
  accounts: Record<string, string>,
): Promise<void> {
  const ids = Object.keys(accounts);
  const answer = await create(
    port,
    ids.map((id) => `<account id="${id}" balance="${accounts[id]}"/>`).join(""),
  );
  deepStrictEqual(answer, ids.map((id) => `created{id=${id}}`));
}

/** Mints `shares` of `sym` into each listed account, asserting success. */
export async function mint(
  port: number,
  sym: string,
  holdings: Record<string, string>,
): Promise<void> {
  const ids = Object.keys(holdings);
  const answer = await create(
    port,
    `<symbol sym="${sym}">${
      ids.map((id) => `<account id="${id}">${holdings[id]}</account>`).join("")
    }</symbol>`,
  );
  deepStrictEqual(answer, ids.map((id) => `created{sym=${sym},id=${id}}`));
}

/** Places one order that must be accepted; returns its transaction id. */
export async function placeOrder(
  port: number,
  account: string,
  sym: string,
  amount: string,
  limit: string,
): Promise<string> {
  const answer = await transact(
    port,
    account,
    `<order sym="${sym}" amount="${amount}" limit="${limit}"/>`,
  );
  strictEqual(answer.length, 1);
  const opened = answer[0]!;
  strictEqual(opened.name, "opened", `order was refused: ${opened.text}`);
  const id = opened.attributes.id!;
  ok(/^[1-9][0-9]*$/.test(id), `transaction id must be a positive integer, got ${id}`);
  return id;
}

/** One `<query>` of `id` by `account`, in compact form with times checked against `window`. */
export async function query(
  port: number,
  account: string,
  id: string,
  window?: { from: number; to: number },
): Promise<string> {
  const answer = await transact(port, account, `<query id="${id}"/>`);
  strictEqual(answer.length, 1);
  return show(answer[0]!, window);
}

/** Canonical decimal text: no exponent, no trailing fractional zeros, `-0` is `0`. */
export function normalize(text: string): string {
  ok(/^-?[0-9]+(\.[0-9]+)?$/.test(text), `not a plain decimal: ${text}`);
  let out = text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  out = out.replace(/^(-?)0+(?=[0-9])/, "$1");
  return out === "-0" ? "0" : out;
}

/** The account's balance as exact decimal text, or undefined if there is no such account. */
export async function balanceOf(sql: Sql, id: string): Promise<string | undefined> {
  const rows = await sql`SELECT balance::text AS balance FROM accounts WHERE id = ${id}`;
  return rows.length === 0 ? undefined : normalize(rows[0]!.balance as string);
}

/** Shares of `sym` held by the account ("0" when it holds no position row). */
export async function sharesOf(sql: Sql, id: string, sym: string): Promise<string> {
  const rows = await sql`
    SELECT shares::text AS shares FROM positions WHERE account_id = ${id} AND sym = ${sym}`;
  return rows.length === 0 ? "0" : normalize(rows[0]!.shares as string);
}

/** Every row of every table, in a stable order: to assert that a refused operation changed nothing. */
export async function snapshot(sql: Sql): Promise<string> {
  const tables = [
    await sql`SELECT id, balance::text, deposited::text FROM accounts ORDER BY id`,
    await sql`SELECT sym, minted::text FROM symbols ORDER BY sym`,
    await sql`SELECT account_id, sym, shares::text FROM positions ORDER BY account_id, sym`,
    await sql`SELECT id::text, account_id, sym, amount::text, limit_price::text, open_shares::text,
                     canceled_shares::text, canceled_at::text
              FROM orders ORDER BY id`,
    await sql`SELECT id::text, buy_order_id::text, sell_order_id::text, shares::text, price::text
              FROM executions ORDER BY id`,
  ];
  return JSON.stringify(tables.map((rows) => [...rows]));
}
