import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { startPgliteServer, type PgliteServer } from "./pglite-server.js";
import * as schema from "./schema.js";

export type Db = PostgresJsDatabase<typeof schema>;
/** The handle inside `db.transaction(async (tx) => …)`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));
export const defaultPgliteDataDir = "./.data/pglite";

export interface DatabaseOptions {
  /** postgres:// URL of a real server (or of another process's embedded server). Omitted: embedded PGlite. */
  url?: string;
  /** Embedded PGlite only: where its data lives, kept across restarts; "memory://" for a throwaway one. */
  dataDir?: string;
  /** Embedded PGlite only: port of its wire-protocol server on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Real server only: a PostgreSQL schema (namespace) that holds every table, created if missing, so several
   * databases can share one server (one per test file). Also read from a `?search_path=` in the URL.
   * PGlite ignores search_path on connections: isolate embedded databases by dataDir instead.
   */
  schema?: string;
  /** Where drizzle records applied migrations; default: `schema` when given, else "drizzle". */
  migrationsSchema?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Connection pool size for a URL (default 10). The embedded server always gets 1: PGlite is one session. */
  max?: number;
}

export interface Database {
  db: Db;
  sql: postgres.Sql;
  /** URL another process can pass as `url` to reach the same tables (it carries `search_path` for a schema). */
  url: string;
  kind: "postgres" | "pglite";
  /** The PostgreSQL schema the tables live in, when isolated by schema. */
  schema?: string;
  close(): Promise<void>;
}

export async function createDatabase(options: DatabaseOptions = {}): Promise<Database> {
  if (options.url === undefined || options.url === "") return createEmbeddedDatabase(options);
  const pgSchema = options.schema ?? new URL(options.url).searchParams.get("search_path") ?? undefined;
  if (pgSchema !== undefined) assertPlainIdentifier(pgSchema);
  const url = pgSchema === undefined ? options.url : withSearchPath(options.url, pgSchema);
  const poolSize = options.max ?? 10;
  const sql = postgres(url, {
    max: poolSize,
    onnotice: () => undefined, // "already exists, skipping" from migrations is not news
    ...(pgSchema === undefined ? {} : { connection: { search_path: pgSchema } }),
  });
  return open({ sql, url, kind: "postgres", poolSize, pgSchema, options, stopServer: async () => undefined });
}

async function createEmbeddedDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.schema !== undefined) {
    throw new Error("schema isolation needs a real PostgreSQL server: PGlite ignores search_path; use a dataDir");
  }
  const server: PgliteServer = await startPgliteServer({
    dataDir: options.dataDir ?? defaultPgliteDataDir,
    port: options.port,
  });
  const sql = postgres(server.url, { max: 1, onnotice: () => undefined });
  return open({ sql, url: server.url, kind: "pglite", poolSize: 1, options, stopServer: () => server.close() });
}

interface Connected {
  sql: postgres.Sql;
  url: string;
  kind: Database["kind"];
  poolSize: number;
  pgSchema?: string;
  options: DatabaseOptions;
  stopServer: () => Promise<void>;
}

async function open({ sql, url, kind, poolSize, pgSchema, options, stopServer }: Connected): Promise<Database> {
  const db = drizzle(sql, { schema });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await sql.end({ timeout: 5 });
      await stopServer();
    })());
  try {
    await prepareSchema(db, sql, { pgSchema, poolSize, options });
  } catch (error) {
    await close();
    throw error;
  }
  return { db, sql, url, kind, ...(pgSchema === undefined ? {} : { schema: pgSchema }), close };
}

// drizzle's migrator reads "what is applied" before its transaction, and CREATE SCHEMA IF NOT EXISTS is not
// safe against itself either: two processes starting together (edge and worker) would both create and
// migrate. A session advisory lock serializes them.
async function prepareSchema(
  db: Db,
  sql: postgres.Sql,
  { pgSchema, poolSize, options }: Pick<Connected, "pgSchema" | "poolSize" | "options">,
): Promise<void> {
  const migrationsSchema = options.migrationsSchema ?? pgSchema ?? "drizzle";
  const lockKey = `drizzle migrations ${pgSchema ?? ""} ${migrationsSchema}`;
  // The lock must stay on one connection while the migrator runs; with a pool of one, that is the pool.
  const reserved = poolSize > 1 ? await sql.reserve() : undefined;
  const lockHolder = reserved ?? sql;
  try {
    await lockHolder`select pg_advisory_lock(hashtext(${lockKey}))`;
    if (pgSchema !== undefined) await sql`create schema if not exists ${sql(pgSchema)}`;
    if (options.migrate !== false) await migrate(db, { migrationsFolder, migrationsSchema });
  } finally {
    await lockHolder`select pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => undefined);
    reserved?.release();
  }
}

function withSearchPath(url: string, pgSchema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("search_path", pgSchema);
  return parsed.toString();
}

// The name goes into search_path and a URL unquoted; keep it to what needs no quoting anywhere.
function assertPlainIdentifier(name: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`schema name must be lower-case letters, digits and _ (got ${JSON.stringify(name)})`);
  }
}
