/**
 * "Serving again?": after a fault ends, fresh orders are sent until one is acknowledged, and the
 * time from the fault's end to that acknowledgement is what the report prints and check 2
 * bounds. An attempt still unanswered after a second does not hold the probe up: the next one is
 * sent beside it, so one request the server hangs on (check 8's business) is not mistaken for a
 * server that does not serve. Every attempt's order is tagged and recorded like a trader's, and
 * the caller awaits every attempt (`settled`) before the checks, so they see all of them.
 */
import { ClientTimeoutError, sendText } from "../../../src/client/exchange_client.ts";
import { parseAnswer } from "../../../src/client/parse_answer.ts";
import { classifyError } from "./answer_class.ts";
import type { Ledger } from "./ledger.ts";
import { taggedLimit } from "./order_tag.ts";
import { ANSWER_TIMEOUT_MS, PROBE_ACCOUNT } from "./traders.ts";

/**
 * The probe keeps trying this long after the fault's end: longer than check 2's 5 s bound, so
 * the report shows how late a slow recovery really was.
 */
export const PROBE_WINDOW_MS = 15_000;
/** A new attempt after an error answer (a short pause) or a silent second (beside it). */
const RETRY_PAUSE_MS = 50;
const SILENT_ATTEMPT_MS = 1_000;
const ATTEMPTS_MAX = 300;

/** A probe's outcome. */
export interface ProbeOutcome {
  /** From the fault's end to the first acknowledged order; undefined if none came in time. */
  ms: number | undefined;
  /** Resolves once every attempt has its answer (or gave up): at most 15 s. */
  settled: Promise<void>;
}

/**
 * Measures from `since` (a performance.now() time) until an order is acknowledged, trying for
 * at most {@link PROBE_WINDOW_MS} (or until `stopped()` says to give up).
 */
export async function timeToServedOrder(
  port: number,
  sym: string,
  ledger: Ledger,
  since: number,
  stopped: () => boolean,
): Promise<ProbeOutcome> {
  let servedAt: number | undefined;
  const attempts: Promise<boolean>[] = [];
  for (let i = 0; i < ATTEMPTS_MAX && servedAt === undefined && !stopped(); i++) {
    if (performance.now() >= since + PROBE_WINDOW_MS) {
      break;
    }
    const attempt = probeOrder(port, sym, ledger).then((served) => {
      if (served) {
        servedAt ??= performance.now();
      }
      return served;
    });
    attempts.push(attempt);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<"silent">((resolve) => {
      timer = setTimeout(() => resolve("silent"), SILENT_ATTEMPT_MS);
    });
    const outcome = await Promise.race([attempt, silent]);
    clearTimeout(timer);
    if (outcome === false) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  return {
    ms: servedAt === undefined ? undefined : servedAt - since,
    settled: Promise.all(attempts).then(() => {}),
  };
}

/** Sends one low buy (it rests below every sell: the traders' fills are untouched); true if acknowledged. */
async function probeOrder(port: number, sym: string, ledger: Ledger): Promise<boolean> {
  const order = {
    account: PROBE_ACCOUNT,
    sym,
    amount: "1",
    limit: taggedLimit(50, ledger.nextTag()),
  };
  const xml =
    `<transactions id="${PROBE_ACCOUNT}"><order sym="${sym}" amount="1" limit="${order.limit}"/></transactions>`;
  const sent = performance.now();
  let answer: string;
  try {
    answer = await sendText(port, xml, "127.0.0.1", { timeoutMs: ANSWER_TIMEOUT_MS });
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
    return false;
  }
  const element = answer === "" ? undefined : firstElement(answer);
  ledger.request(performance.now() - sent, element === undefined ? "probe: no answer" : undefined);
  if (element?.name === "opened" && element.attributes.id !== undefined) {
    ledger.orders.push({ ...order, answer: "acknowledged", id: element.attributes.id });
    ledger.count("acknowledged");
    return true;
  }
  const answerClass = element?.name === "error" ? classifyError(element.text) : "in_doubt";
  ledger.orders.push({ ...order, answer: answerClass, text: element?.text ?? answer });
  ledger.count(answerClass, `probe answer: ${answer.slice(0, 200)}`);
  return false;
}

function firstElement(xml: string) {
  try {
    return parseAnswer(xml)[0];
  } catch {
    return undefined;
  }
}
