import { createHash, randomBytes } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { createDatabase, migrationsFolder, type Database, type DatabaseOptions } from "../../db/client.js";

export type DatabaseKind = Database["kind"];

/** Both kinds, for `describe.each(databaseKinds)`. */
export const databaseKinds: readonly DatabaseKind[] = ["postgres", "pglite"];

/** The real server the "postgres" kind uses (trust auth on this machine and in CI). */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase extends Database {
  /** pglite: the temporary data directory, for reopening it with `createDatabase({ dataDir })`. */
  dataDir?: string;
  /** Closes the connections and removes everything the database left: its schema or its data directory. */
  cleanup(): Promise<void>;
}

export type TestDatabaseOptions = Pick<DatabaseOptions, "migrate" | "max">;

/**
 * A migrated, empty database of its own: a fresh schema on the real server (dropped by cleanup), or an
 * embedded PGlite in a fresh temporary directory (PGlite ignores search_path, so schemas cannot isolate it).
 */
export async function testDatabase(kind: DatabaseKind, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  return kind === "postgres" ? testPostgres(options) : testPglite(options);
}

async function testPostgres(options: TestDatabaseOptions): Promise<TestDatabase> {
  const schema = `test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const database = await createDatabase({ ...options, url: testDatabaseUrl, schema });
  return {
    ...database,
    async cleanup() {
      await database.close();
      // A connection of its own: the test may already have closed the database.
      const admin = postgres(testDatabaseUrl, { max: 1, onnotice: () => undefined });
      try {
        await admin`drop schema if exists ${admin(schema)} cascade`;
      } finally {
        await admin.end();
      }
    },
  };
}

async function testPglite(options: TestDatabaseOptions): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "pglite-test-"));
  try {
    if (options.migrate !== false) await cp(await migratedPgliteTemplate(), dataDir, { recursive: true });
    const database = await createDatabase({ ...options, dataDir });
    return {
      ...database,
      dataDir,
      async cleanup() {
        await database.close();
        await rm(dataDir, { recursive: true, force: true });
        await rm(`${dataDir}.lock`, { force: true });
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

// initdb and migrations take seconds; copying a migrated, cleanly closed data directory takes milliseconds.
// One template per machine, per PGlite version and set of migrations, shared by every test worker.
async function migratedPgliteTemplate(): Promise<string> {
  const template = join(tmpdir(), `pglite-template-${await templateKey()}`);
  if (await exists(template)) return template;
  const building = await mkdtemp(join(tmpdir(), "pglite-template-building-"));
  try {
    await (await createDatabase({ dataDir: building })).close();
    await rename(building, template);
  } catch (error) {
    if (!(await exists(template))) throw error; // otherwise another worker finished first: use theirs
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return template;
}

async function templateKey(): Promise<string> {
  const hash = createHash("sha256");
  const pgliteEntry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  hash.update(await readFile(join(dirname(pgliteEntry), "..", "package.json")));
  for (const file of (await readdir(migrationsFolder, { recursive: true })).sort()) {
    if (file.endsWith(".sql") || file.endsWith(".json")) hash.update(file).update(await readFile(join(migrationsFolder, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}
