/**
 * Replays a worked example of docs/PROTOCOL.md against a real server on a fresh exchange: the
 * setup's answer, then per step the exact answer (times `T<n>` checked to be whole seconds within
 * step n and equal wherever the same label appears) and every balance and position in X read
 * from the database afterwards. The examples' tables have one column per account balance, then
 * one per account position, after the step, the account, the request and the answer.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { startTestServer } from "./harness.ts";
import { codeBlocks, codeIn, docSection, readProtocolDoc, tableRows } from "./protocol_doc.ts";

/** Where an example is in docs/PROTOCOL.md and whose numbers its table shows. */
export interface WorkedExample {
  /** The section (anchor) holding the setup's request and answer. */
  setupSection: string;
  /** The section (anchor) holding the steps' table. */
  stepsSection: string;
  /** The accounts of the table's columns, in order. */
  accounts: readonly string[];
}

interface Step {
  step: number;
  account: string;
  request: string;
  answer: string;
  /** Balances of the accounts, then their positions in X. */
  numbers: string[];
}

function steps(doc: string, example: WorkedExample): Step[] {
  const columns = 4 + 2 * example.accounts.length;
  return tableRows(docSection(doc, example.stepsSection)).map((cells) => {
    strictEqual(cells.length, columns, `a step has ${columns} columns: ${cells.join(" | ")}`);
    const step = Number(cells[0]);
    return {
      step,
      account: cells[1]!,
      request: step === 0 ? "" : codeIn(cells[2]!),
      answer: step === 0 ? "" : codeIn(cells[3]!),
      numbers: cells.slice(4),
    };
  });
}

/** The one operation's answer element, as the server wrote it. */
function onlyChild(xml: string): string {
  const match = /^<results>(.*)<\/results>\n$/s.exec(xml);
  ok(match !== null, `not an answer: ${xml}`);
  return match[1]!;
}

/** Replays `example`; throws at the first answer or number that differs from the document. */
export async function replayWorkedExample(example: WorkedExample): Promise<void> {
  const doc = readProtocolDoc();
  const [setup, setupAnswer] = codeBlocks(docSection(doc, example.setupSection));
  const server = await startTestServer();
  const sql = server.db.sql;
  const numbers = async () => {
    const cash = await Promise.all(example.accounts.map(async (id) => {
      const [row] = await sql`SELECT balance::text AS v FROM accounts WHERE id = ${id}`;
      return String(row?.v);
    }));
    const shares = await Promise.all(example.accounts.map(async (id) => {
      const [row] = await sql`SELECT shares::text AS v FROM positions
                              WHERE account_id = ${id} AND sym = 'X'`;
      return row === undefined ? "0" : String(row.v);
    }));
    // NUMERIC keeps the scale of its inputs (49395.0); the document writes numbers canonically.
    return [...cash, ...shares].map((v) => v.includes(".") ? v.replace(/\.?0+$/, "") : v);
  };
  try {
    strictEqual(await sendText(server.port, setup!.trim()), setupAnswer!.trim() + "\n");
    const times = new Map<string, string>();
    const windows = new Map<string, { from: number; to: number }>();
    for (const step of steps(doc, example)) {
      if (step.step > 0) {
        const from = Math.floor(Date.now() / 1000);
        const answer = onlyChild(
          await sendText(
            server.port,
            `<transactions id="${step.account}">${step.request}</transactions>`,
          ),
        );
        const to = Math.floor(Date.now() / 1000);
        windows.set(`T${step.step}`, { from, to });
        // Each `T<n>` of the document stands for one value: whole seconds within step n.
        const labels = [...step.answer.matchAll(/time="(T[0-9]+)"/g)].map((m) => m[1]!);
        const values = [...answer.matchAll(/time="([0-9]+)"/g)].map((m) => m[1]!);
        strictEqual(values.length, labels.length, `step ${step.step}: ${answer}`);
        labels.forEach((label, i) => {
          const value = values[i]!;
          const known = times.get(label);
          if (known === undefined) {
            const window = windows.get(label);
            ok(window !== undefined, `step ${step.step}: ${label} names a step not yet run`);
            ok(
              Number(value) >= window.from && Number(value) <= window.to,
              `${label}=${value} is not within its step [${window.from}, ${window.to}]`,
            );
            times.set(label, value);
          } else {
            strictEqual(value, known, `step ${step.step}: ${label}`);
          }
        });
        let written = answer;
        labels.forEach((label, i) => {
          written = written.replace(`time="${values[i]}"`, `time="${label}"`);
        });
        strictEqual(written, step.answer, `step ${step.step}: the answer`);
      }
      deepStrictEqual(await numbers(), step.numbers, `step ${step.step}: cash and positions`);
    }
  } finally {
    await server.close();
  }
}
