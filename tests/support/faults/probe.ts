/**
 * "Serving again?": after a fault ends, one fresh order is sent again and again until it is
 * acknowledged, and the time from the fault's end to that acknowledgement is what the report
 * prints and check 2 bounds. The probe's orders are tagged and recorded like any trader's, so
 * the database checks judge them too.
 */
import { ClientTimeoutError, sendText } from "../../../src/client/exchange_client.ts";
import { parseAnswer } from "../../../src/client/parse_answer.ts";
import { classifyError } from "./answer_class.ts";
import type { Ledger } from "./ledger.ts";
import { taggedLimit } from "./order_tag.ts";
import { PROBE_ACCOUNT } from "./traders.ts";

/** The probe keeps trying this long after the fault's end (longer than check 2's 5 s bound, so
 * the report shows how late a slow recovery really was). */
export const PROBE_WINDOW_MS = 15_000;
const RETRY_PAUSE_MS = 50;

/**
 * Milliseconds from `since` (a performance.now() time) until an order was acknowledged, or
 * undefined if none was within {@link PROBE_WINDOW_MS} (or `stopped()` said to give up).
 */
export async function timeToServedOrder(
  port: number,
  sym: string,
  ledger: Ledger,
  since: number,
  stopped: () => boolean,
): Promise<number | undefined> {
  for (let attempt = 0; attempt < 10_000 && !stopped(); attempt++) {
    const remaining = since + PROBE_WINDOW_MS - performance.now();
    if (remaining <= 0) {
      return undefined;
    }
    // A low buy: it rests below every sell, so the probe never changes the traders' fills.
    const order = {
      account: PROBE_ACCOUNT,
      sym,
      amount: "1",
      limit: taggedLimit(50, ledger.nextTag()),
    };
    const xml =
      `<transactions id="${PROBE_ACCOUNT}"><order sym="${sym}" amount="1" limit="${order.limit}"/></transactions>`;
    let answer: string;
    const sent = performance.now();
    try {
      answer = await sendText(port, xml, "127.0.0.1", { timeoutMs: remaining });
    } catch (error) {
      const neverSent = error instanceof Deno.errors.ConnectionRefused ||
        (error instanceof ClientTimeoutError && error.message.startsWith("No connection"));
      if (!neverSent) {
        // Sent but unanswered: the order may exist; the checks resolve it like any in-doubt one.
        ledger.orders.push({ ...order, answer: "in_doubt", text: (error as Error).message });
        ledger.request(performance.now() - sent, `probe: ${(error as Error).message}`);
        ledger.count("in_doubt");
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      continue;
    }
    const element = answer === "" ? undefined : safeFirst(answer);
    ledger.request(
      performance.now() - sent,
      element === undefined ? "probe: no answer" : undefined,
    );
    if (element?.name === "opened" && element.attributes.id !== undefined) {
      ledger.orders.push({ ...order, answer: "acknowledged", id: element.attributes.id });
      ledger.count("acknowledged");
      return performance.now() - since;
    }
    const answerClass = element?.name === "error" ? classifyError(element.text) : "in_doubt";
    ledger.orders.push({ ...order, answer: answerClass, text: element?.text ?? answer });
    ledger.count(answerClass, `probe answer: ${answer.slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
  }
  return undefined;
}

function safeFirst(xml: string) {
  try {
    return parseAnswer(xml)[0];
  } catch {
    return undefined;
  }
}
