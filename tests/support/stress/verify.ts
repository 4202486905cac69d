/**
 * Checks the end state of a stress run against what its clients were told, through the database
 * and through the protocol: every acknowledged order exists exactly as acknowledged, no order
 * exists that nobody was told about, and every order's `<query>` answer accounts for all of its
 * shares (executed + open + canceled = |amount|) and agrees with its database row and with the
 * `<canceled>` answer its cancel got. Run it at a quiet moment (after the load has stopped).
 */
import { pgArray } from "../../../src/db/pg_array.ts";
import { BinaryClient } from "../../../src/client/exchange_client.ts";
import type { Sql } from "../../../src/db/database.ts";
import { type OrderShares, readOrderShares } from "../../../src/db/order_shares.ts";
import {
  abs,
  add,
  compare,
  type Decimal,
  formatDecimal,
  parseDecimal,
  ZERO,
} from "../../../src/exchange/decimal.ts";
import { type AnswerElement, parseAnswer } from "../../../src/client/parse_answer.ts";
import type { AcknowledgedOrder, StressResult } from "./workload.ts";

const QUERIES_PER_REQUEST_MAX = 100;
const PROBLEMS_MAX = 200;

/** Returns every discrepancy found (empty when the run's end state is right). */
export async function verifyStress(
  result: StressResult,
  target: { port: number; host?: string; sql: Sql },
): Promise<string[]> {
  const problems: string[] = [];
  const orders = [...result.acknowledged.values()];
  problems.push(...await checkAcknowledgedInDatabase(target.sql, orders));
  const rows = await readOrderShares(target.sql);
  problems.push(
    ...await checkThroughQueries(target.port, target.host ?? "127.0.0.1", result, rows),
  );
  if (problems.length > PROBLEMS_MAX) {
    return [...problems.slice(0, PROBLEMS_MAX), `... and ${problems.length - PROBLEMS_MAX} more`];
  }
  return problems;
}

/** Each acknowledged order has a row with its id, account, symbol, amount and limit; no others. */
async function checkAcknowledgedInDatabase(
  sql: Sql,
  orders: AcknowledgedOrder[],
): Promise<string[]> {
  const ids = orders.map((o) => o.id);
  const mismatched = await sql`
    SELECT e.id::text AS id, o.id IS NULL AS missing, o.account_id, o.sym,
           o.amount::text AS amount, o.limit_price::text AS limit_price
    FROM unnest(${pgArray(ids)}::bigint[], ${pgArray(orders.map((o) => o.account))}::text[],
                ${pgArray(orders.map((o) => o.sym))}::text[],
                ${pgArray(orders.map((o) => o.amount))}::numeric[],
                ${pgArray(orders.map((o) => o.limit))}::numeric[])
         AS e(id, account_id, sym, amount, limit_price)
    LEFT JOIN orders AS o ON o.id = e.id
    WHERE o.id IS NULL OR o.account_id <> e.account_id OR o.sym <> e.sym
       OR o.amount <> e.amount OR o.limit_price <> e.limit_price
    ORDER BY e.id
    LIMIT ${PROBLEMS_MAX}`;
  const problems = mismatched.map((row) => {
    const acked = orders.find((o) => o.id === row.id);
    if (row.missing === true) {
      return `acknowledged order ${row.id} does not exist in the database`;
    }
    return `order ${row.id} was acknowledged as ${JSON.stringify(acked)} but the database holds ` +
      `account ${row.account_id}, ${row.sym}, amount ${row.amount}, limit ${row.limit_price}`;
  });
  const unacknowledged = await sql`
    SELECT id::text AS id FROM orders WHERE NOT (id = ANY(${
    pgArray(ids)
  }::bigint[])) ORDER BY id LIMIT 20`;
  for (const row of unacknowledged) {
    problems.push(`order ${row.id} exists in the database but no client was told it opened`);
  }
  return problems;
}

/** Queries every acknowledged order through the protocol (binary framing, pipelined). */
async function checkThroughQueries(
  port: number,
  host: string,
  result: StressResult,
  rows: Map<string, OrderShares>,
): Promise<string[]> {
  const problems: string[] = [];
  const byAccount = new Map<string, AcknowledgedOrder[]>();
  for (const order of result.acknowledged.values()) {
    const list = byAccount.get(order.account) ?? [];
    list.push(order);
    byAccount.set(order.account, list);
  }
  const client = await BinaryClient.connect(port, host);
  try {
    const pending: Array<Promise<void>> = [];
    for (const [account, orders] of byAccount) {
      for (let start = 0; start < orders.length; start += QUERIES_PER_REQUEST_MAX) {
        const chunk = orders.slice(start, start + QUERIES_PER_REQUEST_MAX);
        const xml = `<transactions id="${account}">${
          chunk.map((o) => `<query id="${o.id}"/>`).join("")
        }` +
          `</transactions>`;
        pending.push(
          client.request(xml).then((answer) => {
            const elements = parseAnswer(answer);
            if (elements.length !== chunk.length) {
              problems.push(
                `${chunk.length} queries got ${elements.length} answers: ${answer.slice(0, 300)}`,
              );
              return;
            }
            chunk.forEach((order, i) => {
              problems.push(
                ...checkStatus(
                  order,
                  elements[i]!,
                  rows.get(order.id),
                  result.canceled.get(order.id),
                ),
              );
            });
          }),
        );
      }
    }
    await Promise.all(pending);
  } finally {
    client.close();
    await client.closed();
  }
  return problems;
}

/** One `<status>` answer against the order, its database row and its cancel answer. */
function checkStatus(
  order: AcknowledgedOrder,
  status: AnswerElement,
  row: OrderShares | undefined,
  canceledAnswer: string | undefined,
): string[] {
  const where = `order ${order.id} (${order.amount} ${order.sym} @ ${order.limit})`;
  if (status.name !== "status" || status.attributes.id !== order.id) {
    return [`${where}: query answered <${status.name}> ${status.text}`];
  }
  if (row === undefined) {
    return [`${where}: answered by query but has no database row`];
  }
  const problems: string[] = [];
  let open = ZERO;
  let canceled: Decimal | undefined;
  let executed = ZERO;
  let fills = 0;
  for (const [index, child] of status.children.entries()) {
    const shares = parseDecimal(child.attributes.shares ?? "");
    if (typeof shares === "string" || compare(shares, ZERO) <= 0) {
      problems.push(
        `${where}: <${child.name}> has bad shares ${JSON.stringify(child.attributes.shares)}`,
      );
      continue;
    }
    if (child.name === "executed") {
      executed = add(executed, shares);
      fills++;
    } else if ((child.name === "open" || child.name === "canceled") && index === 0) {
      if (child.name === "open") {
        open = shares;
      } else {
        canceled = shares;
      }
    } else {
      problems.push(`${where}: unexpected <${child.name}> at position ${index}`);
    }
  }
  const total = add(add(open, canceled ?? ZERO), executed);
  if (compare(total, abs(parseDecimalOrThrow(order.amount))) !== 0) {
    problems.push(
      `${where}: executed ${formatDecimal(executed)} + open ${formatDecimal(open)} + canceled ` +
        `${formatDecimal(canceled ?? ZERO)} = ${formatDecimal(total)}, not ${
          order.amount.replace("-", "")
        }`,
    );
  }
  if (
    compare(open, row.open) !== 0 || compare(canceled ?? ZERO, row.canceled) !== 0 ||
    compare(executed, row.executed) !== 0 || fills !== row.fills
  ) {
    problems.push(
      `${where}: query says open ${formatDecimal(open)}, canceled ${
        formatDecimal(canceled ?? ZERO)
      }, ` +
        `executed ${formatDecimal(executed)} in ${fills} fills; the database says open ` +
        `${formatDecimal(row.open)}, canceled ${formatDecimal(row.canceled)}, executed ` +
        `${formatDecimal(row.executed)} in ${row.fills} fills`,
    );
  }
  if (canceledAnswer === undefined && canceled !== undefined) {
    problems.push(
      `${where}: shows canceled ${formatDecimal(canceled)} but no cancel of it succeeded`,
    );
  }
  if (canceledAnswer !== undefined) {
    const told = parseDecimalOrThrow(canceledAnswer);
    if (canceled === undefined || compare(canceled, told) !== 0) {
      problems.push(
        `${where}: its cancel answered ${canceledAnswer} canceled shares, the query shows ` +
          `${canceled === undefined ? "none" : formatDecimal(canceled)}`,
      );
    }
  }
  return problems;
}

function parseDecimalOrThrow(text: string): Decimal {
  const value = parseDecimal(text);
  if (typeof value === "string") {
    throw new TypeError(`Not a decimal: ${JSON.stringify(text)}`);
  }
  return value;
}
