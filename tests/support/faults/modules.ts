/**
 * The parts of the suite written on the `fault-net` branch (the TCP proxy, the replica pair),
 * wired in one place, so that the controller depends only on the small interfaces it uses.
 */
import { runFailover } from "./failover_run.ts";
import { ReplicaPair } from "./replica_pair.ts";
import type { SuiteOptions } from "./suite.ts";
import { TcpProxy } from "./tcp_proxy.ts";

/** The proxy factory and the failover controller. */
export function suiteModules(): Promise<Pick<SuiteOptions, "startProxy" | "runFailover">> {
  return Promise.resolve({
    startProxy: (host, port) => TcpProxy.start({ targetHost: host, targetPort: port }),
    runFailover: (options) => runFailover((pair) => ReplicaPair.start(pair), options),
  });
}
