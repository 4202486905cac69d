/**
 * The PostgreSQL a fault run uses, whichever kind it is: what the controller needs to reach it
 * (host, port, superuser), to hurt it (stop fast or immediate, start again) and to remove it.
 */

/** A PostgreSQL cluster owned by the fault suite, listening on 127.0.0.1. */
export interface FaultCluster {
  /** For the report: "embedded PostgreSQL 18", "Debian PostgreSQL 15, default settings". */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  /** A superuser with trust authentication on 127.0.0.1. */
  readonly user: string;
  /** Where the cluster writes its log, for the report when something goes wrong. */
  readonly logFile: string;
  /** `postgres://user@127.0.0.1:port/database`. */
  url(database: string, port?: number): string;
  /** Stops PostgreSQL: `fast` rolls back and disconnects, `immediate` is a crash. */
  stop(mode: "fast" | "immediate"): Promise<void>;
  /** Starts it again after {@link stop}; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (immediate) and removes its files; never throws. */
  close(): Promise<void>;
}

/** The URL of `database` on a cluster reached at `host:port` as `user` (trust). */
export function clusterUrl(user: string, host: string, port: number, database: string): string {
  return `postgres://${user}@${host}:${port}/${database}`;
}
