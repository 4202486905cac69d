/**
 * `<create>`: accounts and symbols (and the shares minted to accounts), each in its own small
 * transaction, validated before anything reaches the database.
 */
import type { Database } from "../db/database.ts";
import { createAccount } from "../db/accounts.ts";
import { declareSymbol, mintShares } from "../db/symbols.ts";
import { checkAccountId, checkBalance, checkShares, checkSymbol } from "../exchange/validation.ts";
import { createdAnswer, errorAnswer, type Pairs, unknownElementAnswer } from "../xml/answers.ts";
import type { XmlElement } from "../xml/element.ts";
import type { CreateAccount, CreateChild, CreateSymbol } from "../xml/request.ts";
import { echo, guard, type RequestState } from "./operation_guard.ts";

/** The answers of a `<create>` request's children, one per operation, in document order. */
export async function runCreate(
  db: Database,
  children: readonly CreateChild[],
  state: RequestState,
  log: (line: string) => void,
): Promise<XmlElement[]> {
  const results: XmlElement[] = [];
  for (const child of children) {
    switch (child.kind) {
      case "account":
        results.push(
          await guard(
            state,
            echo(child.attributes, ["id"]),
            () => createAccountAnswer(db, child),
            log,
          ),
        );
        break;
      case "symbol":
        results.push(...await createSymbolAnswers(db, child, state, log));
        break;
      case "unknown":
        results.push(
          unknownElementAnswer(
            [...child.attributes],
            child.name,
            "<create> holds <account> and <symbol>",
          ),
        );
        break;
    }
  }
  return results;
}

async function createAccountAnswer(db: Database, child: CreateAccount): Promise<XmlElement> {
  const echoed = echo(child.attributes, ["id"]);
  const id = checkAccountId(child.attributes.get("id"));
  if (!id.ok) {
    return errorAnswer(echoed, id.message);
  }
  const balance = checkBalance(child.attributes.get("balance"));
  if (!balance.ok) {
    return errorAnswer(echoed, balance.message);
  }
  const outcome = await createAccount(db, id.value, balance.value);
  return outcome.ok ? createdAnswer([["id", id.value]]) : errorAnswer(echoed, outcome.message);
}

async function createSymbolAnswers(
  db: Database,
  child: CreateSymbol,
  state: RequestState,
  log: (line: string) => void,
): Promise<XmlElement[]> {
  const rawSym = child.attributes.get("sym");
  const symEcho: Array<[string, string]> = rawSym === undefined ? [] : [["sym", rawSym]];
  const sym = checkSymbol(rawSym);
  if (child.children.length === 0) {
    // A <symbol> listing no accounts still declares the symbol: one answer for it.
    if (!sym.ok) {
      return [errorAnswer(symEcho, sym.message)];
    }
    const symbol = sym.value;
    return [
      await guard(state, symEcho, async () => {
        await declareSymbol(db, symbol);
        return createdAnswer([["sym", symbol]]);
      }, log),
    ];
  }
  const results: XmlElement[] = [];
  for (const account of child.children) {
    const echoed: Pairs = [...symEcho, ...echo(account.attributes, ["id"])];
    if (account.kind === "unknown") {
      results.push(unknownElementAnswer(echoed, account.name, "<symbol> holds <account>"));
      continue;
    }
    if (!sym.ok) {
      results.push(errorAnswer(echoed, sym.message));
      continue;
    }
    const id = checkAccountId(account.attributes.get("id"));
    if (!id.ok) {
      results.push(errorAnswer(echoed, id.message));
      continue;
    }
    const shares = checkShares(account.text === "" ? undefined : account.text);
    if (!shares.ok) {
      results.push(errorAnswer(echoed, shares.message));
      continue;
    }
    const symbol = sym.value;
    results.push(
      await guard(state, echoed, async () => {
        const outcome = await mintShares(db, symbol, id.value, shares.value);
        return outcome.ok
          ? createdAnswer([["sym", symbol], ["id", id.value]])
          : errorAnswer(echoed, outcome.message);
      }, log),
    );
  }
  return results;
}
