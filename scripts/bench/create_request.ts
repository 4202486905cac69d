/** Sends one `<create>` the bench needs before it can measure, and fails loudly if refused. */
import { BinaryClient } from "../../src/client/exchange_client.ts";

/** Sends `xml` on a connection of its own; throws when any of its operations is refused. */
export async function createOrThrow(host: string, port: number, xml: string): Promise<void> {
  const client = await BinaryClient.connect(port, host);
  try {
    const answer = await client.request(xml);
    if (answer.includes("<error")) {
      throw new Error(`setup refused: ${answer.slice(0, 500)}`);
    }
  } finally {
    client.close();
    await client.closed();
  }
}
