/**
 * The parts of the suite that live on the `fault-net` branch (the TCP proxy, the replica pair),
 * wired in one place. Until they exist, the kinds that need them are reported as skipped.
 */
import type { SuiteOptions } from "./suite.ts";

/** The proxy factory and failover controller, where available. */
export function suiteModules(): Promise<Pick<SuiteOptions, "startProxy" | "runFailover">> {
  return Promise.resolve({ startProxy: undefined });
}
