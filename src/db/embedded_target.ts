/**
 * The one answer to "how do I connect to the embedded cluster of this data directory": its
 * socket directory (which {@link locateCluster} finds, relocated cluster and long-path fallback
 * included), port, user and database. The server, the audit, the HTTP side and the tests all
 * ask here instead of writing the socket path, port or names themselves.
 */
import { type ClusterLocation, locateCluster, SOCKET_PORT } from "./cluster_location.ts";

/** The database of the exchange in the embedded cluster. */
export const EMBEDDED_DATABASE = "exchange";
/** The embedded cluster's superuser (the user `initdb` ran with). */
export const EMBEDDED_USER = "postgres";

/** A PostgreSQL reached through its Unix socket. */
export interface SocketTarget {
  kind: "socket";
  /** Directory of the socket file (`psql -h` takes it as the host). */
  socketDir: string;
  /** The number in the socket file's name, `.s.PGSQL.<port>`. */
  port: number;
  user: string;
  database: string;
}

/** The socket target of the cluster at `location`, for `database`. */
export function clusterTarget(
  location: ClusterLocation,
  database: string = EMBEDDED_DATABASE,
): SocketTarget {
  return {
    kind: "socket",
    socketDir: location.socketDir,
    port: SOCKET_PORT,
    user: EMBEDDED_USER,
    database,
  };
}

/** The socket target of the embedded cluster of `dataDir`, for `database` (the exchange's). */
export function embeddedTarget(
  dataDir: string,
  database: string = EMBEDDED_DATABASE,
): SocketTarget {
  return clusterTarget(locateCluster(dataDir), database);
}
