/** `<create>` through the wire: accounts, symbols, minting, refusals, order of processing. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { startTestServer } from "../support/harness.ts";
import {
  balanceOf,
  create,
  normalize,
  placeOrder,
  send,
  sharesOf,
  show,
  snapshot,
  transact,
} from "./exchange_fixture.ts";

Deno.test("<create><account> creates an account with its balance and no positions", async () => {
  const server = await startTestServer();
  try {
    const sql = server.db.sql;
    deepStrictEqual(
      await create(
        server.port,
        `<account id="123456" balance="1000.50"/><account id="0" balance="0"/>`,
      ),
      [
        "created{id=123456}",
        "created{id=0}",
      ],
    );
    strictEqual(await balanceOf(sql, "123456"), "1000.5");
    strictEqual(await balanceOf(sql, "0"), "0");
    const [positions] = await sql`SELECT count(*)::int AS n FROM positions`;
    strictEqual(positions!.n, 0);
  } finally {
    await server.close();
  }
});

Deno.test("<create><account> of an existing id is refused and keeps the first balance", async () => {
  const server = await startTestServer();
  try {
    deepStrictEqual(await create(server.port, `<account id="5" balance="10"/>`), ["created{id=5}"]);
    const before = await snapshot(server.db.sql);
    const answer = await send(
      server.port,
      `<create><account id="5" balance="99"/><account id="5" balance="10"/></create>`,
    );
    deepStrictEqual(answer.map((element) => show(element)), ["error{id=5}", "error{id=5}"]);
    ok(answer.every((element) => element.text.length > 0));
    strictEqual(await snapshot(server.db.sql), before);
    strictEqual(await balanceOf(server.db.sql, "5"), "10");
  } finally {
    await server.close();
  }
});

Deno.test("<create><account> with a bad id or balance is refused", async () => {
  const server = await startTestServer();
  try {
    const before = await snapshot(server.db.sql);
    const answer = await send(
      server.port,
      `<create>` +
        `<account id="abc" balance="1"/><account id="" balance="1"/><account id="-1" balance="1"/>` +
        `<account id="1a" balance="1"/><account id="1.5" balance="1"/><account id=" 1" balance="1"/>` +
        `<account balance="1"/>` +
        `<account id="2" balance="-1"/><account id="3" balance="-0.01"/><account id="4" balance="ten"/>` +
        `<account id="5" balance="1e3"/><account id="6" balance=""/><account id="7"/>` +
        `<account id="8" balance="+1"/><account id="9" balance=".5"/>` +
        `</create>`,
    );
    deepStrictEqual(answer.map((element) => show(element)), [
      "error{id=abc}",
      "error{id=}",
      "error{id=-1}",
      "error{id=1a}",
      "error{id=1.5}",
      "error{id= 1}",
      "error{}",
      "error{id=2}",
      "error{id=3}",
      "error{id=4}",
      "error{id=5}",
      "error{id=6}",
      "error{id=7}",
      "error{id=8}",
      "error{id=9}",
    ]);
    ok(answer.every((element) => element.text.length > 0));
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("account ids are kept verbatim: 007 and 7 are different accounts", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    deepStrictEqual(
      await create(port, `<account id="007" balance="10"/><account id="7" balance="20"/>`),
      [
        "created{id=007}",
        "created{id=7}",
      ],
    );
    deepStrictEqual(
      await create(port, `<account id="007" balance="1"/><account id="07" balance="30"/>`),
      [
        "error{id=007}",
        "created{id=07}",
      ],
    );
    strictEqual(await balanceOf(sql, "007"), "10");
    strictEqual(await balanceOf(sql, "7"), "20");
    strictEqual(await balanceOf(sql, "07"), "30");
    deepStrictEqual(await create(port, `<symbol sym="X"><account id="007">3</account></symbol>`), [
      "created{sym=X,id=007}",
    ]);
    strictEqual(await sharesOf(sql, "007", "X"), "3");
    strictEqual(await sharesOf(sql, "7", "X"), "0");
    // 15 fits account 7's 20 but not account 007's 10.
    await placeOrder(port, "7", "X", "15", "1");
    const refused = await transact(port, "007", `<order sym="X" amount="15" limit="1"/>`);
    deepStrictEqual(refused.map((element) => show(element)), ["error{sym=X,amount=15,limit=1}"]);
    strictEqual(await balanceOf(sql, "7"), "5");
    strictEqual(await balanceOf(sql, "007"), "10");
  } finally {
    await server.close();
  }
});

Deno.test("<create><symbol> mints shares again and again and they add up", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    deepStrictEqual(
      await create(port, `<account id="1" balance="0"/><account id="2" balance="0"/>`),
      [
        "created{id=1}",
        "created{id=2}",
      ],
    );
    deepStrictEqual(
      await create(
        port,
        `<symbol sym="SPY"><account id="1">100</account><account id="2">0.5</account></symbol>` +
          `<symbol sym="SPY"><account id="1">50.25</account></symbol>`,
      ),
      ["created{sym=SPY,id=1}", "created{sym=SPY,id=2}", "created{sym=SPY,id=1}"],
    );
    deepStrictEqual(
      await create(port, `<symbol sym="SPY"><account id="1">  7  </account></symbol>`),
      [
        "created{sym=SPY,id=1}",
      ],
    );
    strictEqual(await sharesOf(sql, "1", "SPY"), "157.25");
    strictEqual(await sharesOf(sql, "2", "SPY"), "0.5");
    const [symbol] = await sql`SELECT minted::text AS minted FROM symbols WHERE sym = 'SPY'`;
    strictEqual(normalize(symbol!.minted), "157.75");
  } finally {
    await server.close();
  }
});

Deno.test("<create><symbol> for an unknown account, with a bad NUM or a bad sym is refused", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    deepStrictEqual(await create(port, `<account id="1" balance="0"/>`), ["created{id=1}"]);
    const before = await snapshot(server.db.sql);
    const answer = await send(
      port,
      `<create>` +
        `<symbol sym="X"><account id="2">10</account><account id="01">10</account></symbol>` +
        `<symbol sym="X"><account id="1">0</account><account id="1">-5</account>` +
        `<account id="1">ten</account><account id="1"></account><account id="1">1e3</account>` +
        `<account id="1">+5</account><account id="abc">5</account></symbol>` +
        `<symbol sym="S-P"><account id="1">10</account></symbol>` +
        `<symbol sym=""><account id="1">10</account></symbol>` +
        `<symbol sym="S P"><account id="1">10</account></symbol>` +
        `</create>`,
    );
    deepStrictEqual(answer.map((element) => show(element)), [
      "error{sym=X,id=2}",
      "error{sym=X,id=01}",
      "error{sym=X,id=1}",
      "error{sym=X,id=1}",
      "error{sym=X,id=1}",
      "error{sym=X,id=1}",
      "error{sym=X,id=1}",
      "error{sym=X,id=1}",
      "error{sym=X,id=abc}",
      "error{sym=S-P,id=1}",
      "error{sym=,id=1}",
      "error{sym=S P,id=1}",
    ]);
    ok(answer.every((element) => element.text.length > 0));
    // No symbol was created by the refused mints, and nothing else changed.
    strictEqual(await snapshot(server.db.sql), before);
    deepStrictEqual(await create(port, `<symbol sym="S-P"/>`), ["error{sym=S-P}"]);
    strictEqual(await snapshot(server.db.sql), before);
  } finally {
    await server.close();
  }
});

Deno.test("<create> processes children in order: an account created earlier can be used later", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const sql = server.db.sql;
    deepStrictEqual(
      await create(
        port,
        `<symbol sym="X"><account id="1">5</account></symbol>` +
          `<account id="1" balance="10"/>` +
          `<symbol sym="X"><account id="1">5</account></symbol>` +
          `<account id="1" balance="10"/>`,
      ),
      ["error{sym=X,id=1}", "created{id=1}", "created{sym=X,id=1}", "error{id=1}"],
    );
    strictEqual(await sharesOf(sql, "1", "X"), "5");
    strictEqual(await balanceOf(sql, "1"), "10");
  } finally {
    await server.close();
  }
});

Deno.test("<symbol> with no children answers created and declares the symbol", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    deepStrictEqual(
      await create(port, `<symbol sym="X"/><symbol sym="X"></symbol><account id="1" balance="5"/>`),
      [
        "created{sym=X}",
        "created{sym=X}",
        "created{id=1}",
      ],
    );
    // The symbol exists with no shares: a buy may rest on it.
    const answer = await transact(port, "1", `<order sym="X" amount="1" limit="5"/>`);
    strictEqual(answer[0]!.name, "opened");
    const [symbol] = await server.db
      .sql`SELECT minted::text AS minted FROM symbols WHERE sym = 'X'`;
    strictEqual(symbol!.minted, "0");
  } finally {
    await server.close();
  }
});

Deno.test("an unknown child of <create> or <symbol> gets an error in its position", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    const answer = await send(
      port,
      `<create><account id="1" balance="1"/><bogus foo="bar"/><account id="2" balance="2"/>` +
        `<symbol sym="X"><account id="1">1</account><shares id="2">1</shares><account id="2">2</account></symbol>` +
        `</create>`,
    );
    deepStrictEqual(answer.map((element) => show(element)), [
      "created{id=1}",
      "error{foo=bar}",
      "created{id=2}",
      "created{sym=X,id=1}",
      "error{sym=X,id=2}",
      "created{sym=X,id=2}",
    ]);
    ok(answer[1]!.text.length > 0 && answer[4]!.text.length > 0);
    strictEqual(await sharesOf(server.db.sql, "2", "X"), "2");
    // And an unknown child of <transactions> too.
    const mixed = await transact(
      port,
      "1",
      `<query id="1"/><buy sym="X"/><order sym="X" amount="1" limit="1"/>`,
    );
    deepStrictEqual(mixed.map((element) => element.name), ["error", "error", "opened"]);
    strictEqual(show(mixed[1]!), "error{sym=X}");
  } finally {
    await server.close();
  }
});

Deno.test("numbers in answers are written plainly, without trailing zeros", async () => {
  const server = await startTestServer();
  try {
    const { port } = server;
    deepStrictEqual(
      await create(port, `<account id="1" balance="100000"/><account id="2" balance="0"/>`),
      [
        "created{id=1}",
        "created{id=2}",
      ],
    );
    deepStrictEqual(
      await create(port, `<symbol sym="X"><account id="2">10.000</account></symbol>`),
      [
        "created{sym=X,id=2}",
      ],
    );
    const answer = await transact(
      port,
      "1",
      `<order sym="X" amount="100.50" limit="0012.500"/><order sym="X" amount="1.0" limit="7.10"/>`,
    );
    const [a, b] = answer.map((element) => show(element));
    strictEqual(a, `opened{sym=X,amount=100.5,limit=12.5,id=${answer[0]!.attributes.id}}`);
    strictEqual(b, `opened{sym=X,amount=1,limit=7.1,id=${answer[1]!.attributes.id}}`);
    const sell = await transact(port, "2", `<order sym="X" amount="-2.50" limit="3.000"/>`);
    const sellId = sell[0]!.attributes.id!;
    strictEqual(show(sell[0]!), `opened{sym=X,amount=-2.5,limit=3,id=${sellId}}`);
    // Fills 2.5 at 12.5 against the first buy.
    const [status] = await transact(port, "2", `<query id="${sellId}"/>`);
    strictEqual(status!.children.length, 1);
    const executed = status!.children[0]!;
    deepStrictEqual(
      { name: executed.name, shares: executed.attributes.shares, price: executed.attributes.price },
      { name: "executed", shares: "2.5", price: "12.5" },
    );
    // Reserved 100.5 x 12.5 + 1 x 7.1 = 1256.25 + 7.1 = 1263.35.
    strictEqual(await balanceOf(server.db.sql, "1"), "98736.65");
    strictEqual(await balanceOf(server.db.sql, "2"), "31.25");
  } finally {
    await server.close();
  }
});
