/**
 * A layout in which the embedded PostgreSQL cannot run (a directory its user cannot reach, a
 * staging directory someone else owns). Its message is one sentence naming the directory and
 * the fix; the server prints it instead of a stack trace.
 */
export class ClusterSetupError extends Error {
  override name = "ClusterSetupError";
}
