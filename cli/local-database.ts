import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createDatabase, type Database } from "../db/client.js";

/**
 * The database a command-line tool should use: DATABASE_URL; else the embedded database of a running
 * `npm start` (its URL is in the PGlite lock file); else the embedded data directory opened directly.
 */
export async function openLocalOrEnvDatabase(dataDir = process.env.DATA_DIR ?? ".data"): Promise<Database> {
  if (process.env.DATABASE_URL) return createDatabase({ url: process.env.DATABASE_URL });
  const lock = join(dataDir, "pglite.lock");
  if (existsSync(lock)) {
    try {
      const held = JSON.parse(readFileSync(lock, "utf8")) as { pid: number; url?: string };
      process.kill(held.pid, 0);
      if (held.url) return createDatabase({ url: held.url, migrate: false, max: 1 });
    } catch {
      // stale lock: the server is gone; open the directory ourselves
    }
  }
  return createDatabase({ dataDir: join(dataDir, "pglite") });
}
