import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Db } from "../../db/client.js";
import * as schema from "../../db/schema.js";
import type { WorkerEnv } from "./env.js";
import { openPgSocket } from "./pg-socket.js";

export interface RequestDatabase {
  db: Db;
  /** Closes this request's connections once its queries are done; hand it to ctx.waitUntil. */
  close(): Promise<void>;
}

/**
 * A postgres.js client for one request, through Hyperdrive (which does the pooling). workerd ties sockets to
 * the request that opened them: a client kept at module scope fails on the next request ("Cannot perform I/O on
 * behalf of a different request"). Type OIDs are not fetched (fetch_types: false): one round trip less per request.
 * Sockets come from pg-socket.ts, so that sql.end() closes them without an unhandled rejection.
 */
export function openRequestDatabase(env: WorkerEnv): RequestDatabase {
  const url = env.HYPERDRIVE.connectionString;
  // Hyperdrive drops the query string, so a schema other than `public` comes from a variable.
  const searchPath = new URL(url).searchParams.get("search_path") ?? (env.DATABASE_SEARCH_PATH || undefined);
  if (searchPath !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(searchPath)) {
    throw new Error(`DATABASE_SEARCH_PATH must be a plain schema name, not ${JSON.stringify(searchPath)}`);
  }
  // postgres.js reads a `socket` factory from its options but does not declare it in its types.
  const options: postgres.Options<Record<string, never>> & { socket: typeof openPgSocket } = {
    max: 5,
    fetch_types: false,
    onnotice: () => undefined,
    socket: openPgSocket,
    ...(searchPath === undefined ? {} : { connection: { search_path: searchPath } }),
  };
  const sql = postgres(url, options);
  return { db: drizzle(sql, { schema }), close: () => sql.end({ timeout: 5 }) };
}
