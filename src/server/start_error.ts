/** An expected start-up failure (a port in use): `main.ts` prints one line, no stack. */
export class StartError extends Error {
  override name = "StartError";
}
