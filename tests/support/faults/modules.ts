/**
 * The parts of the suite written on the `fault-net` branch (the TCP proxy, the replica pair),
 * wired in one place. Until one exists, the kinds that need it are reported as skipped.
 */
import type { SuiteOptions } from "./suite.ts";
import { TcpProxy } from "./tcp_proxy.ts";

/** The proxy factory and failover controller, where available. */
export function suiteModules(): Promise<Pick<SuiteOptions, "startProxy" | "runFailover">> {
  return Promise.resolve({
    startProxy: (host, port) => TcpProxy.start({ targetHost: host, targetPort: port }),
  });
}
