/**
 * Seeded random sequences of orders with and without the optional instructions (time in force,
 * self-trade prevention, client references, some of them invalid), cancels and queries, sent
 * through real sockets one request at a time, each answer checked against the reference exchange
 * of tests/support/reference_exchange.ts (an independent implementation of docs/PROTOCOL.md),
 * and at the end every balance and position, and the audit. Few accounts on two books, so that
 * self-trades, repeated references and fill-or-kill refusals happen all the time. Set
 * INSTRUCTIONS_SEED to replay a failing run; the seed is printed on failure.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { auditDatabase } from "../../src/db/audit.ts";
import { startTestServer } from "../support/harness.ts";
import {
  ReferenceExchange,
  type RefOrderRequest,
  type RefOutcome,
  type RefStp,
  type RefTif,
  statusChildren,
  text,
  units,
} from "../support/reference_exchange.ts";
import { SeededDraws } from "../../scripts/support/seeded_random.ts";
import {
  balanceOf,
  createAccounts,
  type Element,
  mint,
  sharesOf,
  show,
  transact,
} from "./exchange_fixture.ts";

const ACCOUNTS = ["1", "2", "3", "4"];
const SYMBOLS = ["A", "B"];
const REQUESTS = 260;
const ANY_TIME = { from: 0, to: 4102444800 };
/** What the reference exchange counts, each of which every run must see. */
const EVENTS = [
  "repeat",
  "ref_mismatch",
  "fok_killed",
  "fok_filled",
  "stp_cancel_newest",
  "stp_cancel_oldest",
  "rest_canceled_ioc",
  "rest_canceled_stp",
];

/** One child of a request: its XML, and what the reference exchange expects it to be answered. */
interface Planned {
  readonly xml: string;
  readonly expected: { readonly compact: string; readonly text: string };
}

class Scenario extends SeededDraws {
  readonly model = new ReferenceExchange();
  /** Order elements sent with a reference, per account: sent again to test repeats. */
  readonly #withRef = new Map<string, string[]>();
  #nextRef = 1;

  /** The attributes of a new random order, in the order the server writes them. */
  #orderAttributes(account: string): Array<[string, string]> {
    const shares = text(units(String(this.int(1, 20))) + (this.chance(0.2) ? units("0.5") : 0n));
    const attributes: Array<[string, string]> = [
      ["sym", this.chance(0.97) ? this.pick(SYMBOLS) : "NOPE"],
      ["amount", this.chance(0.5) ? shares : `-${shares}`],
      ["limit", text(units("9.5") + BigInt(this.int(0, 4)) * units("0.25"))],
    ];
    if (this.chance(0.5)) {
      attributes.push(["tif", this.chance(0.03) ? "ioc" : this.pick(["GTC", "IOC", "FOK"])]);
    }
    if (this.chance(0.5)) {
      attributes.push([
        "stp",
        this.chance(0.03) ? "both" : this.pick(["none", "cancel-newest", "cancel-oldest"]),
      ]);
    }
    if (this.chance(0.4)) {
      const used = this.#withRef.get(account) ?? [];
      const ref = used.length > 0 && this.chance(0.3)
        ? /ref="([^"]*)"/.exec(this.pick(used))![1]!
        : this.chance(0.03)
        ? "bad ref"
        : `r${this.#nextRef++}`;
      attributes.push(["ref", ref]);
    }
    return attributes;
  }

  /** A random child of `<transactions id=account>`, planned against the reference exchange. */
  child(account: string): Planned {
    const roll = this.next();
    const placed = this.model.orders;
    if (roll < 0.12 && placed.length > 0) {
      const target = this.chance(0.8)
        ? this.pick(placed.filter((o) => o.account === account).concat(placed).slice(0, 40))
        : this.pick(placed);
      return this.#cancel(account, target.id);
    }
    if (roll < 0.2 && placed.length > 0) {
      return this.#query(account, this.pick(placed).id);
    }
    const used = this.#withRef.get(account) ?? [];
    if (roll < 0.3 && used.length > 0) {
      // Exactly an order sent before with a reference: a retry.
      return this.#order(account, attributesOf(this.pick(used)));
    }
    return this.#order(account, this.#orderAttributes(account));
  }

  #order(account: string, attributes: Array<[string, string]>): Planned {
    const xml = `<order ${attributes.map(([k, v]) => `${k}="${v}"`).join(" ")}/>`;
    const get = new Map(attributes);
    const echo = `{${attributes.map(([k, v]) => `${k}=${v}`).join(",")}}`;
    const tif = get.get("tif");
    const stp = get.get("stp");
    const ref = get.get("ref");
    if (tif !== undefined && !["GTC", "IOC", "FOK"].includes(tif)) {
      return planned(xml, `error${echo}`, `Time in force must be GTC, IOC or FOK, got "${tif}"`);
    }
    if (stp !== undefined && !["none", "cancel-newest", "cancel-oldest"].includes(stp)) {
      return planned(
        xml,
        `error${echo}`,
        `Self-trade prevention must be none, cancel-newest or cancel-oldest, got "${stp}"`,
      );
    }
    if (ref !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(ref)) {
      return planned(
        xml,
        `error${echo}`,
        `Ref must be 1 to 64 ASCII letters, digits, '.', '_', ':' or '-', got "${ref}"`,
      );
    }
    if (ref !== undefined) {
      this.#withRef.set(account, [...this.#withRef.get(account) ?? [], xml]);
    }
    const amount = units(get.get("amount")!);
    const request: RefOrderRequest = {
      sym: get.get("sym")!,
      side: amount > 0n ? "buy" : "sell",
      shares: amount > 0n ? amount : -amount,
      limit: units(get.get("limit")!),
      ...(tif === undefined ? {} : { tif: tif as RefTif }),
      ...(stp === undefined ? {} : { stp: stp as RefStp }),
      ...(ref === undefined ? {} : { ref }),
    };
    const outcome = this.model.place(account, request);
    const detailed = tif !== undefined || stp !== undefined || ref !== undefined;
    const attrs = (id: bigint, extra = "") =>
      `{${attributes.map(([k, v]) => `${k}=${v}`).join(",")},id=${id}${extra}}`;
    switch (outcome.kind) {
      case "refused":
        return planned(xml, `error${echo}`, outcome.message);
      case "repeat":
        return planned(
          xml,
          `opened${attrs(outcome.id, ",repeated=true")}${
            children(statusChildren(this.model.order(outcome.id)!))
          }`,
          "",
        );
      case "opened": {
        if (!detailed) {
          return planned(xml, `opened${attrs(outcome.id)}`, "");
        }
        const now: string[] = [];
        if (outcome.open > 0n) {
          now.push(`open{shares=${text(outcome.open)}}`);
        }
        if (outcome.canceled > 0n) {
          now.push(`canceled{shares=${text(outcome.canceled)},time=T}`);
        }
        for (const fill of outcome.fills) {
          now.push(`executed{shares=${text(fill.shares)},price=${text(fill.price)},time=T}`);
        }
        return planned(xml, `opened${attrs(outcome.id)}${children(now)}`, "");
      }
      default:
        throw new Error(`an order answered ${outcome.kind}`);
    }
  }

  #cancel(account: string, id: bigint): Planned {
    const xml = `<cancel id="${id}"/>`;
    const outcome: RefOutcome = this.model.cancel(account, id);
    if (outcome.kind === "refused") {
      return planned(xml, `error{id=${id}}`, outcome.message);
    }
    const order = this.model.order(id)!;
    const executed = statusChildren(order).filter((child) => child.startsWith("executed"));
    return planned(
      xml,
      `canceled{id=${id}}${
        children([
          `canceled{shares=${text((outcome as { shares: bigint }).shares)},time=T}`,
          ...executed,
        ])
      }`,
      "",
    );
  }

  #query(account: string, id: bigint): Planned {
    const xml = `<query id="${id}"/>`;
    const order = this.model.order(id)!;
    if (order.account !== account) {
      return planned(xml, `error{id=${id}}`, "Unknown transaction id for this account");
    }
    return planned(xml, `status{id=${id}}${children(statusChildren(order))}`, "");
  }
}

function planned(xml: string, compact: string, message: string): Planned {
  return { xml, expected: { compact, text: message } };
}

function children(list: readonly string[]): string {
  return list.length === 0 ? "" : `[${list.join(" ")}]`;
}

function attributesOf(xml: string): Array<[string, string]> {
  return [...xml.matchAll(/([a-z]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
}

function actual(element: Element): { compact: string; text: string } {
  return { compact: show(element, ANY_TIME), text: element.name === "error" ? element.text : "" };
}

/**
 * `mustCoverEveryRule`: fail unless the sequence exercised every rule. Only for the fixed seed:
 * its sequence is always the same (one request at a time), while a random seed may miss a rule
 * now and then (one missed `stp_cancel_oldest` in a CI run) without anything being wrong.
 */
async function runScenario(seed: number, mustCoverEveryRule: boolean): Promise<void> {
  const server = await startTestServer();
  try {
    const { port } = server;
    const scenario = new Scenario(seed);
    const balances = Object.fromEntries(ACCOUNTS.map((id) => [id, String(scenario.int(50, 400))]));
    await createAccounts(port, balances);
    for (const id of ACCOUNTS) {
      scenario.model.createAccount(id, units(balances[id]!));
    }
    for (const sym of SYMBOLS) {
      const holdings = Object.fromEntries(ACCOUNTS.map((id) => [id, String(scenario.int(5, 40))]));
      await mint(port, sym, holdings);
      for (const id of ACCOUNTS) {
        scenario.model.mint(sym, id, units(holdings[id]!));
      }
    }
    for (let i = 0; i < REQUESTS; i++) {
      const account = scenario.pick(ACCOUNTS);
      const plans = Array.from(
        { length: scenario.chance(0.3) ? 3 : 1 },
        () => scenario.child(account),
      );
      const answer = await transact(port, account, plans.map((p) => p.xml).join(""));
      deepStrictEqual(
        answer.map(actual),
        plans.map((p) => p.expected),
        `request ${i} of account ${account}: ${plans.map((p) => p.xml).join("")}`,
      );
    }
    for (const id of ACCOUNTS) {
      strictEqual(
        await balanceOf(server.db.sql, id),
        text(scenario.model.balances.get(id)!),
        `balance of ${id}`,
      );
      for (const sym of SYMBOLS) {
        strictEqual(
          await sharesOf(server.db.sql, id, sym),
          text(scenario.model.position(id, sym)),
          `position of ${id} in ${sym}`,
        );
      }
    }
    // The sequence exercised every rule (else it would prove nothing about it).
    for (const event of mustCoverEveryRule ? EVENTS : []) {
      strictEqual(
        (scenario.model.events.get(event) ?? 0) > 0,
        true,
        `no ${event} in ${JSON.stringify([...scenario.model.events])}`,
      );
    }
    const audit = await auditDatabase(server.db.sql);
    deepStrictEqual(audit.violations, []);
    strictEqual(audit.totals.orders, scenario.model.orders.length, "one row per accepted order");
  } catch (error) {
    console.error(`order_instructions_random_test failed: replay with INSTRUCTIONS_SEED=${seed}`);
    throw error;
  } finally {
    await server.close();
  }
}

const replay = Deno.env.get("INSTRUCTIONS_SEED");
/** A seed whose sequence exercises every rule (checked on every run). */
const FIXED_SEED = 20261130;

Deno.test("random orders with time in force, self-trade prevention and refs agree with the reference exchange answer by answer", async () => {
  if (replay !== undefined) {
    await runScenario(Number(replay), false);
    return;
  }
  await runScenario(FIXED_SEED, true);
  await runScenario((Math.random() * 2 ** 32) >>> 0, false);
});
