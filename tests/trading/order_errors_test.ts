/**
 * Every refusal of `<order>`, `<query>` and `<cancel>`, and the shared account check: each
 * asserts the exact attributes echoed, a message, and that nothing in the database changed.
 */
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { sendText } from "../../src/client/exchange_client.ts";
import { INTERNAL_ERROR } from "../../src/xml/answers.ts";
import { startTestServer, type TestServer } from "../support/harness.ts";
import {
  answerElements,
  balanceOf,
  createAccounts,
  type Element,
  mint,
  placeOrder,
  query,
  sharesOf,
  show,
  snapshot,
  transact,
} from "./exchange_fixture.ts";

/** Asserts every answer is an `<error>` with a message; returns them in compact form. */
function errors(answer: Element[]): string[] {
  for (const element of answer) {
    strictEqual(element.name, "error", `expected an error, got ${show(element)}`);
    ok(element.text.length > 0, `error without a message: ${show(element)}`);
  }
  return answer.map((element) => show(element));
}

/** Account 1: 1000 cash and 100 X; account 2: 500 cash and 50 X. */
async function setUp(server: TestServer): Promise<void> {
  await createAccounts(server.port, { "1": "1000", "2": "500" });
  await mint(server.port, "X", { "1": "100", "2": "50" });
}

Deno.test("unknown account: every order, query and cancel gets an error echoing its own attributes", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const mine = await placeOrder(server.port, "1", "X", "10", "5");
    const before = await snapshot(server.db.sql);
    for (const account of ["999", "abc", "01", ""]) {
      const answer = await transact(
        server.port,
        account,
        `<order sym="X" amount="10" limit="5"/><query id="${mine}"/><cancel id="${mine}"/>` +
          `<order sym="X" amount="-3" limit="7.5"/><query id="12345"/><cancel id="1"/>`,
      );
      deepStrictEqual(errors(answer), [
        "error{sym=X,amount=10,limit=5}",
        `error{id=${mine}}`,
        `error{id=${mine}}`,
        "error{sym=X,amount=-3,limit=7.5}",
        "error{id=12345}",
        "error{id=1}",
      ], `account ${JSON.stringify(account)}`);
      // One shared check: the same message for every kind of child.
      strictEqual(new Set(answer.map((element) => element.text)).size, 1, `account ${account}`);
    }
    strictEqual(await snapshot(server.db.sql), before);
    // Account 1's order was neither canceled nor revealed.
    strictEqual(await query(server.port, "1", mine), `status{id=${mine}}[open{shares=10}]`);
  } finally {
    await server.close();
  }
});

Deno.test("order for an unknown symbol is refused and echoes sym, amount and limit", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const before = await snapshot(server.db.sql);
    const answer = await transact(
      server.port,
      "1",
      `<order sym="NOPE" amount="1" limit="1"/><order sym="x" amount="-1" limit="1"/>` +
        `<order sym="S-P" amount="1" limit="1"/><order sym="" amount="1" limit="1"/>`,
    );
    deepStrictEqual(errors(answer), [
      "error{sym=NOPE,amount=1,limit=1}",
      // Symbols are case-sensitive: x is not X.
      "error{sym=x,amount=-1,limit=1}",
      "error{sym=S-P,amount=1,limit=1}",
      "error{sym=,amount=1,limit=1}",
    ]);
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("order with an amount that is zero or not a plain decimal is refused", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const before = await snapshot(server.db.sql);
    const bad = [
      "0",
      "-0",
      "0.000",
      "abc",
      "+5",
      "1.",
      ".5",
      "1e3",
      " 5",
      "5 ",
      "--5",
      "1,5",
      "0x10",
      "Infinity",
      "NaN",
      "",
      "9".repeat(400),
      "1." + "1".repeat(400),
    ];
    const answer = await transact(
      server.port,
      "1",
      bad.map((amount) => `<order sym="X" amount="${amount}" limit="1"/>`).join(""),
    );
    deepStrictEqual(errors(answer), bad.map((amount) => `error{sym=X,amount=${amount},limit=1}`));
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("order with a limit that is not positive or not a plain decimal is refused", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const before = await snapshot(server.db.sql);
    const bad = [
      "0",
      "-0",
      "0.0",
      "-1",
      "-0.01",
      "abc",
      "+5",
      "1.",
      ".5",
      "1e3",
      " 5",
      "",
      "9".repeat(400),
    ];
    // Both a buy and a sell: a sell reserves no cash, but its limit is checked all the same.
    const answer = await transact(
      server.port,
      "1",
      bad.map((limit) =>
        `<order sym="X" amount="1" limit="${limit}"/><order sym="X" amount="-1" limit="${limit}"/>`
      )
        .join(""),
    );
    deepStrictEqual(
      errors(answer),
      bad.flatMap((
        limit,
      ) => [`error{sym=X,amount=1,limit=${limit}}`, `error{sym=X,amount=-1,limit=${limit}}`]),
    );
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("order with missing attributes is refused and echoes the attributes it has", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const before = await snapshot(server.db.sql);
    const answer = await transact(
      server.port,
      "1",
      `<order amount="1" limit="1"/><order sym="X" limit="1"/><order sym="X" amount="1"/><order/>`,
    );
    deepStrictEqual(errors(answer), [
      "error{amount=1,limit=1}",
      "error{sym=X,limit=1}",
      "error{sym=X,amount=1}",
      "error{}",
    ]);
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("an echoed value keeps its exact text, spaces included", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const raw = await sendText(
      server.port,
      `<transactions id="1"><order sym="X" amount=" 5" limit="1 "/></transactions>`,
    );
    ok(raw.includes(`amount=" 5"`) && raw.includes(`limit="1 "`), raw);
    deepStrictEqual(errors(answerElements(raw)), ["error{sym=X,amount= 5,limit=1 }"]);
  } finally {
    await server.close();
  }
});

Deno.test("buy costing more than the balance is refused; exactly the balance is accepted", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const before = await snapshot(server.db.sql);
    // 1000.01 > 1000, 11 x 91 = 1001 > 1000, 0.5 x 2000.02 = 1000.01 > 1000.
    const answer = await transact(
      server.port,
      "1",
      `<order sym="X" amount="1" limit="1000.01"/><order sym="X" amount="11" limit="91"/>` +
        `<order sym="X" amount="0.5" limit="2000.02"/>`,
    );
    deepStrictEqual(errors(answer), [
      "error{sym=X,amount=1,limit=1000.01}",
      "error{sym=X,amount=11,limit=91}",
      "error{sym=X,amount=0.5,limit=2000.02}",
    ]);
    strictEqual(await snapshot(server.db.sql), before);

    // 0.5 x 2000 = 1000: the whole balance may be reserved; then even 0.01 more is refused.
    await placeOrder(server.port, "1", "X", "0.5", "2000");
    strictEqual(await balanceOf(server.db.sql, "1"), "0");
    const after = await snapshot(server.db.sql);
    deepStrictEqual(
      errors(await transact(server.port, "1", `<order sym="X" amount="0.01" limit="1"/>`)),
      [
        "error{sym=X,amount=0.01,limit=1}",
      ],
    );
    strictEqual(await snapshot(server.db.sql), after);
  } finally {
    await server.close();
  }
});

Deno.test("sell of more shares than the position is refused, counting shares reserved by open sells", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    await mint(server.port, "Y", { "2": "10" });
    const before = await snapshot(server.db.sql);
    const answer = await transact(
      server.port,
      "1",
      // 100.5 > 100 held; account 1 has no Y at all.
      `<order sym="X" amount="-100.5" limit="1"/><order sym="Y" amount="-1" limit="1"/>`,
    );
    deepStrictEqual(errors(answer), [
      "error{sym=X,amount=-100.5,limit=1}",
      "error{sym=Y,amount=-1,limit=1}",
    ]);
    strictEqual(await snapshot(server.db.sql), before);

    await placeOrder(server.port, "1", "X", "-60", "10");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "40");
    const after = await snapshot(server.db.sql);
    deepStrictEqual(
      errors(await transact(server.port, "1", `<order sym="X" amount="-40.001" limit="10"/>`)),
      [
        "error{sym=X,amount=-40.001,limit=10}",
      ],
    );
    strictEqual(await snapshot(server.db.sql), after);
    // Exactly what is left is accepted.
    await placeOrder(server.port, "1", "X", "-40", "10");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("query and cancel of an unknown id and of another account's id give the same error", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const theirs = await placeOrder(server.port, "2", "X", "10", "5"); // reserves 50 of account 2
    const before = await snapshot(server.db.sql);
    const answer = await transact(
      server.port,
      "1",
      `<query id="${theirs}"/><query id="987654"/><cancel id="${theirs}"/><cancel id="987654"/>`,
    );
    deepStrictEqual(errors(answer), [
      `error{id=${theirs}}`,
      "error{id=987654}",
      `error{id=${theirs}}`,
      "error{id=987654}",
    ]);
    strictEqual(answer[0]!.text, answer[1]!.text, "query: another account's id must look unknown");
    strictEqual(answer[2]!.text, answer[3]!.text, "cancel: another account's id must look unknown");
    strictEqual(await snapshot(server.db.sql), before);
    strictEqual(await balanceOf(server.db.sql, "2"), "450");
    strictEqual(await query(server.port, "2", theirs), `status{id=${theirs}}[open{shares=10}]`);
  } finally {
    await server.close();
  }
});

Deno.test("query and cancel of malformed or missing ids are refused with the id echoed", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    await placeOrder(server.port, "1", "X", "1", "1");
    const before = await snapshot(server.db.sql);
    const ids = ["0", "-1", "abc", "", "1.0", " 1", "9".repeat(60)];
    const answer = await transact(
      server.port,
      "1",
      ids.map((id) => `<query id="${id}"/><cancel id="${id}"/>`).join("") + `<query/><cancel/>`,
    );
    deepStrictEqual(errors(answer), [
      ...ids.flatMap((id) => [`error{id=${id}}`, `error{id=${id}}`]),
      "error{}",
      "error{}",
    ]);
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("cancel of a fully executed order is refused and changes nothing", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const buy = await placeOrder(server.port, "1", "X", "10", "20"); // 1000 - 200 = 800
    const sell = await placeOrder(server.port, "2", "X", "-10", "20"); // fills buy at 20
    strictEqual(await balanceOf(server.db.sql, "1"), "800");
    strictEqual(await balanceOf(server.db.sql, "2"), "700");
    const before = await snapshot(server.db.sql);
    deepStrictEqual(errors(await transact(server.port, "1", `<cancel id="${buy}"/>`)), [
      `error{id=${buy}}`,
    ]);
    deepStrictEqual(errors(await transact(server.port, "2", `<cancel id="${sell}"/>`)), [
      `error{id=${sell}}`,
    ]);
    strictEqual(await snapshot(server.db.sql), before);
    const [status] = await transact(server.port, "1", `<query id="${buy}"/>`);
    deepStrictEqual(
      status!.children.map((child) => child.name),
      ["executed"],
      "a fully executed order shows neither open nor canceled",
    );
  } finally {
    await server.close();
  }
});

Deno.test("cancel twice: the second is refused and the refund happens once", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const buy = await placeOrder(server.port, "1", "X", "4", "25"); // 1000 - 100 = 900
    const sell = await placeOrder(server.port, "1", "X", "-7", "500"); // 100 - 7 = 93
    strictEqual(await balanceOf(server.db.sql, "1"), "900");
    const first = await transact(server.port, "1", `<cancel id="${buy}"/><cancel id="${sell}"/>`);
    deepStrictEqual(first.map((element) => element.name), ["canceled", "canceled"]);
    strictEqual(await balanceOf(server.db.sql, "1"), "1000");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "100");
    const before = await snapshot(server.db.sql);
    // In one request, and again in another.
    const second = await transact(
      server.port,
      "1",
      `<cancel id="${buy}"/><cancel id="${buy}"/><cancel id="${sell}"/>`,
    );
    deepStrictEqual(errors(second), [`error{id=${buy}}`, `error{id=${buy}}`, `error{id=${sell}}`]);
    strictEqual(await snapshot(server.db.sql), before);
    strictEqual(await balanceOf(server.db.sql, "1"), "1000");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "100");
  } finally {
    await server.close();
  }
});

Deno.test("a refused child does not affect its neighbours in the same request", async () => {
  const server = await startTestServer();
  try {
    await setUp(server);
    const answer = await transact(
      server.port,
      "1",
      `<order sym="X" amount="2" limit="100"/><order sym="X" amount="9" limit="100"/>` +
        `<order sym="X" amount="8" limit="100"/><query id="1"/>`,
    );
    // 2 x 100 = 200 leaves 800; 9 x 100 = 900 > 800 refused; 8 x 100 = 800 accepted.
    deepStrictEqual(answer.map((element) => show(element)), [
      "opened{sym=X,amount=2,limit=100,id=1}",
      "error{sym=X,amount=9,limit=100}",
      show(answer[2]!),
      "status{id=1}[open{shares=2}]",
    ]);
    strictEqual(answer[2]!.name, "opened");
    notStrictEqual(answer[2]!.attributes.id, "1");
    strictEqual(await balanceOf(server.db.sql, "1"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("concurrent buys and sells never spend more cash or shares than the account holds", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    await setUp(server);
    // Account 1: 1000 cash, 100 X. Twelve buys of 5 x 40 = 200 each: exactly five fit.
    // Twelve sells of 20 shares each: exactly five fit.
    const buys = Array.from(
      { length: 12 },
      () => transact(port, "1", `<order sym="X" amount="5" limit="40"/>`),
    );
    const sells = Array.from(
      { length: 12 },
      () => transact(port, "1", `<order sym="X" amount="-20" limit="50"/>`),
    );
    const buyAnswers = (await Promise.all(buys)).map((answer) => answer[0]!.name);
    const sellAnswers = (await Promise.all(sells)).map((answer) => answer[0]!.name);
    strictEqual(buyAnswers.filter((name) => name === "opened").length, 5, buyAnswers.join(" "));
    strictEqual(buyAnswers.filter((name) => name === "error").length, 7, buyAnswers.join(" "));
    strictEqual(sellAnswers.filter((name) => name === "opened").length, 5, sellAnswers.join(" "));
    strictEqual(sellAnswers.filter((name) => name === "error").length, 7, sellAnswers.join(" "));
    strictEqual(await balanceOf(server.db.sql, "1"), "0");
    strictEqual(await sharesOf(server.db.sql, "1", "X"), "0");
  } finally {
    await server.close();
  }
});

Deno.test("concurrent cancels of one order: exactly one succeeds and the refund happens once", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    await setUp(server);
    const buy = await placeOrder(port, "1", "X", "10", "30"); // 1000 - 300 = 700
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => transact(port, "1", `<cancel id="${buy}"/>`)),
    );
    const names = answers.map((answer) => answer[0]!.name);
    strictEqual(names.filter((name) => name === "canceled").length, 1, names.join(" "));
    strictEqual(names.filter((name) => name === "error").length, 9, names.join(" "));
    strictEqual(await balanceOf(server.db.sql, "1"), "1000");
  } finally {
    await server.close();
  }
});

Deno.test("an unexpected failure of the shared account check is answered per operation", async () => {
  const server = await startTestServer();
  try {
    // The account check's table is gone: its query fails with 42P01, neither a refusal nor an
    // outage. Before, the whole request was answered with one <error>; now each child has its own.
    await server.db.sql`ALTER TABLE accounts RENAME TO accounts_gone`;
    const answer = await transact(
      server.port,
      "1",
      `<order sym="X" amount="1" limit="1"/><query id="5"/><cancel id="6"/>`,
    );
    deepStrictEqual(answer.map((e) => show(e)), [
      "error{sym=X,amount=1,limit=1}",
      "error{id=5}",
      "error{id=6}",
    ]);
    deepStrictEqual(answer.map((e) => e.text), [INTERNAL_ERROR, INTERNAL_ERROR, INTERNAL_ERROR]);
  } finally {
    await server.close();
  }
});
