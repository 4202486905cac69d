/**
 * Test support: one embedded PostgreSQL cluster per test process (in a temporary directory,
 * removed at exit), a fresh migrated database per test, and an in-process server on a free port.
 */
import { buildConfig, type DatabaseConfig, type Limits } from "../../src/config.ts";
import { type Database, ensureDatabase, makeDatabase } from "../../src/db/database.ts";
import { EmbeddedPostgres } from "../../src/db/embedded_postgres.ts";
import { PACKAGED_BINARIES } from "../../src/db/postgres_binaries.ts";
import { migrate } from "../../src/db/migrate.ts";
import {
  ExchangeService,
  SERVICE_OPTIONS_DEFAULT,
  type ServiceOptions,
} from "../../src/server/exchange_service.ts";
import { ExchangeServer } from "../../src/server/server.ts";

/** Settings for a throwaway cluster: durability is not under test here, speed is welcome. */
export const TEST_CLUSTER_SETTINGS = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
};

let cluster: Promise<{ pg: EmbeddedPostgres; dir: string }> | undefined;
let databaseCounter = 0;

/** The database configuration tests use (small pool unless stated). */
export function testDatabaseConfig(overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return { ...buildConfig(new Map(), 2).database, poolSize: 8, ...overrides };
}

/**
 * Where the initialized cluster that every test module copies lives (one per PostgreSQL package
 * and user, kept between runs): each module of `deno test` runs in an isolate of its own and
 * starts its own cluster, and copying one took 0.3 s where `initdb` took 1.2-1.5 s.
 */
function templatePath(): string {
  const key = Array.from(new TextEncoder().encode(PACKAGED_BINARIES.initdb))
    .reduce((hash, byte) => (hash * 31 + byte) >>> 0, 7).toString(16);
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  return `${tmp}/exchange-test-template-${Deno.uid()}-${key}`;
}

/** The cluster shared by all tests of this module, started on first use. */
export function testCluster(): Promise<{ pg: EmbeddedPostgres; dir: string }> {
  cluster ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "exchange-test-" });
    const pg = await EmbeddedPostgres.start({
      dataDir: dir,
      settings: TEST_CLUSTER_SETTINGS,
      template: await EmbeddedPostgres.makeTemplate(templatePath()),
    });
    globalThis.addEventListener("unload", () => {
      pg.stopSync();
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Best effort.
      }
    });
    return { pg, dir };
  })();
  return cluster;
}

/** A new, empty, migrated database on the shared cluster, with its own pool. */
export async function freshDatabase(overrides: Partial<DatabaseConfig> = {}): Promise<Database> {
  const { pg } = await testCluster();
  const config = testDatabaseConfig(overrides);
  const name = `test_${Deno.pid}_${++databaseCounter}`;
  await ensureDatabase(pg.target("postgres"), name, config);
  // The test database does not own the shared cluster: closing it leaves the cluster running.
  const db = makeDatabase(
    pg.target(name),
    config,
    "exchange-test",
    `test database ${name}`,
    undefined,
  );
  await migrate(db, { reset: false });
  return db;
}

/** A running in-process server on a free port, with its own fresh database. */
export interface TestServer {
  port: number;
  db: Database;
  server: ExchangeServer;
  service: ExchangeService;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    limits?: Partial<Limits>;
    database?: Partial<DatabaseConfig>;
    db?: Database;
    service?: Partial<ServiceOptions>;
  } = {},
): Promise<TestServer> {
  const db = options.db ?? await freshDatabase(options.database);
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const defaults = buildConfig(new Map(), 2);
  const service = new ExchangeService(db, log, { ...SERVICE_OPTIONS_DEFAULT, ...options.service });
  const server = new ExchangeServer({
    host: "127.0.0.1",
    port: 0,
    reusePort: false,
    limits: { ...defaults.limits, ...options.limits },
    service,
    log,
  });
  const serving = server.serve();
  return {
    port: server.port,
    db,
    server,
    service,
    logs,
    async close() {
      await server.shutdown(2_000);
      await serving;
      await db.close();
    },
  };
}
