/**
 * Which requests of one connection RequestHandlerStream runs at once, and that their answers
 * still leave in arrival order. The service is a stand-in whose requests end when the test says:
 * the handler is the unit here (the engine's side of the order is tested in
 * tests/trading/pipelining_test.ts, over sockets and PostgreSQL).
 */
import { deepStrictEqual } from "node:assert/strict";
import type { Response } from "../../src/framing/response_encoder_stream.ts";
import { RequestHandlerStream } from "../../src/server/request_handler_stream.ts";
import type { RequestSequence } from "../../src/server/transactions.ts";
import type { ParsedFrame } from "../../src/xml/xml_request_stream.ts";
import type { Request } from "../../src/xml/request.ts";
import type { XmlElement } from "../../src/xml/element.ts";

const orders = (id: string): Request => ({
  kind: "transactions",
  attributes: new Map([["id", id]]),
  children: [{ kind: "order", attributes: new Map([["sym", "X"]]) }],
});
const query = (id: string): Request => ({
  kind: "transactions",
  attributes: new Map([["id", id]]),
  children: [{ kind: "query", attributes: new Map([["id", "1"]]) }],
});

/** A service whose requests (told apart by their account id) end when `finish(id)` is called. */
class HeldService {
  readonly events: string[] = [];
  readonly #finish = new Map<string, () => void>();

  execute(request: Request, sequence?: RequestSequence): Promise<XmlElement[]> {
    const id = request.kind === "transactions" ? request.attributes.get("id")! : "create";
    this.events.push(`start ${id}${sequence === undefined ? "" : " (early)"}`);
    // A request of orders has queued its operations once it has started: it says so at once.
    sequence?.released();
    return new Promise((resolve) => {
      this.#finish.set(id, () => {
        this.events.push(`end ${id}`);
        resolve([{ name: "done", attributes: [["id", id]] }]);
      });
    });
  }

  finish(id: string): void {
    this.#finish.get(id)!();
  }
}

/** Lets every task that is ready run: what has not happened after this waits for something. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function harness(requestsMax: number) {
  const service = new HeldService();
  const input = new TransformStream<ParsedFrame, ParsedFrame>();
  const writer = input.writable.getWriter();
  const answers: string[] = [];
  const reading = input.readable
    .pipeThrough(new RequestHandlerStream(service, { requestsMax }))
    .pipeTo(
      new WritableStream<Response>({
        write: (response) => {
          answers.push(/id="([^"]*)"/.exec(response.xml)?.[1] ?? response.xml);
        },
      }),
    );
  const send = (request: Request) => {
    writer.write({ kind: "request", framing: "binary", request });
  };
  return { service, answers, send, writer, reading };
}

Deno.test("pipelined requests of orders run at once, and are answered in arrival order", async () => {
  const { service, answers, send, writer, reading } = harness(8);
  send(orders("1"));
  send(orders("2"));
  send(orders("3"));
  await settle();
  deepStrictEqual(service.events, ["start 1 (early)", "start 2 (early)", "start 3 (early)"]);
  // The last ends first; its answer waits for those before it.
  service.finish("3");
  service.finish("2");
  await settle();
  deepStrictEqual(answers, []);
  service.finish("1");
  await settle();
  deepStrictEqual(answers, ["1", "2", "3"]);
  await writer.close();
  await reading;
});

Deno.test("a query waits for every request before it, and the requests after it wait for it", async () => {
  const { service, answers, send, writer, reading } = harness(8);
  send(orders("1"));
  send(query("2"));
  send(orders("3"));
  await settle();
  deepStrictEqual(service.events, ["start 1 (early)"]);
  service.finish("1");
  await settle();
  deepStrictEqual(service.events, ["start 1 (early)", "end 1", "start 2"]);
  service.finish("2");
  await settle();
  deepStrictEqual(service.events.slice(3), ["end 2", "start 3 (early)"]);
  service.finish("3");
  await writer.close();
  await reading;
  deepStrictEqual(answers, ["1", "2", "3"]);
});

Deno.test("no more requests run at once than requestsMax; with 1, one at a time", async () => {
  const two = harness(2);
  for (const id of ["1", "2", "3"]) {
    two.send(orders(id));
  }
  await settle();
  deepStrictEqual(two.service.events, ["start 1 (early)", "start 2 (early)"]);
  two.service.finish("2");
  await settle();
  deepStrictEqual(two.service.events.slice(2), ["end 2", "start 3 (early)"]);
  two.service.finish("1");
  two.service.finish("3");
  await two.writer.close();
  await two.reading;
  deepStrictEqual(two.answers, ["1", "2", "3"]);

  const one = harness(1);
  one.send(orders("1"));
  one.send(orders("2"));
  await settle();
  deepStrictEqual(one.service.events, ["start 1"]);
  one.service.finish("1");
  await settle();
  deepStrictEqual(one.service.events, ["start 1", "end 1", "start 2"]);
  one.service.finish("2");
  await one.writer.close();
  await one.reading;
  deepStrictEqual(one.answers, ["1", "2"]);
});

Deno.test("a request still running when the connection's answers are no longer read ends quietly", async () => {
  const service = new HeldService();
  const handler = new RequestHandlerStream(service, { requestsMax: 8 });
  const writer = handler.writable.getWriter();
  const reader = handler.readable.getReader();
  // The connection's answer loop waits for the first answer, as it does.
  const firstAnswer = reader.read();
  writer.write({ kind: "request", framing: "binary", request: orders("1") });
  writer.write({ kind: "request", framing: "binary", request: orders("2") });
  await settle();
  deepStrictEqual(service.events, ["start 1 (early)", "start 2 (early)"]);
  // The connection is gone: its answer loop stops reading.
  await reader.cancel();
  deepStrictEqual(await firstAnswer, { done: true, value: undefined });
  // The requests finish; their answers have nowhere to go, and no rejection is left unhandled
  // (the test runner fails a test that leaves one).
  service.finish("1");
  service.finish("2");
  await settle();
  deepStrictEqual(service.events.slice(2), ["end 1", "end 2"]);
  await writer.close().catch(() => {});
});
