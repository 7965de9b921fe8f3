import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, migrationsFolder } from "../../db/client.js";
import { databaseKinds, testDatabase, type TestDatabase } from "../support/database.js";

const expectedTables = [
  "api_keys",
  "browser_token_grants",
  "browser_tokens",
  "idempotency_keys",
  "job_chunks",
  "jobs",
  "outbox",
  "rate_limit_windows",
  "transcripts",
  "uploads",
  "usage_records",
  "webhook_attempts",
  "webhook_deliveries",
  "worker_heartbeats",
];

describe("committed migrations", () => {
  it("never pin tables to the public schema, so a per-test schema holds all of them", async () => {
    // drizzle-kit writes REFERENCES "public"."…"; strip it after `drizzle-kit generate` (see drizzle.config.ts).
    for (const file of (await readdir(migrationsFolder)).filter((name) => name.endsWith(".sql"))) {
      expect(await readFile(join(migrationsFolder, file), "utf8"), file).not.toMatch(/"public"\./);
    }
  });
});

describe.each(databaseKinds)("migrations on %s", (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase(kind);
  });
  afterAll(() => database?.cleanup());

  const tablesHere = async () => {
    const rows = await database.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'
        and table_name <> '__drizzle_migrations'
      order by table_name`;
    return rows.map((row) => row.table_name);
  };
  const appliedCount = async () => {
    const [row] = await database.sql<{ count: number }[]>`
      select count(*)::int as count from ${database.sql(database.schema ?? "drizzle")}.__drizzle_migrations`;
    return row.count;
  };

  it("creates every table in the database's own schema", async () => {
    expect(await tablesHere()).toEqual(expectedTables);
  });

  it("applies again as a no-op", async () => {
    const journal = JSON.parse(await readFile(join(migrationsFolder, "meta/_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    expect(await appliedCount()).toBe(journal.entries.length);
    await migrate(database.db, { migrationsFolder, migrationsSchema: database.schema ?? "drizzle" });
    expect(await appliedCount()).toBe(journal.entries.length);
    expect(await tablesHere()).toEqual(expectedTables);
  });

  it("lets newest-first listing per key use the (api_key_id, created_at desc, id desc) index", async () => {
    const plan = await database.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_sort = off`);
      const rows = await tx.execute<{ "QUERY PLAN": string }>(sql`
        explain select id from jobs where api_key_id = '00000000-0000-0000-0000-000000000000'
        order by created_at desc, id desc limit 20`);
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    });
    expect(plan).toContain("jobs_api_key_created_idx");
    expect(plan).not.toMatch(/\bSort\b/);
  });
});

const journalEntries = (): number =>
  (JSON.parse(readFileSync(new URL("../../db/migrations/meta/_journal.json", import.meta.url), "utf8")) as { entries: unknown[] }).entries.length;

describe("migrations on a real server racing each other", () => {
  it("apply once when two processes start together on an empty schema", async () => {
    const scratch = await testDatabase("postgres", { migrate: false });
    try {
      const url = scratch.url; // carries search_path=<the schema>
      const [first, second] = await Promise.all([createDatabase({ url }), createDatabase({ url })]);
      const [row] = await first.sql<{ count: number }[]>`
        select count(*)::int as count from ${first.sql(scratch.schema ?? "")}.__drizzle_migrations`;
      // Each migration recorded once, not once per process.
      expect(row.count).toBe(journalEntries());
      await Promise.all([first.close(), second.close()]);
    } finally {
      await scratch.cleanup();
    }
  });
});
