import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate --name <what>` writes SQL + snapshots to db/migrations (committed). Migrations are
// applied by db/client.ts at start, never by drizzle-kit, so no connection is configured here.
//
// After generating, strip the schema drizzle-kit pins foreign keys to, so the tables can live in any schema
// (per-test schemas on a real server): sed -i 's/REFERENCES "public"\./REFERENCES /g' db/migrations/*.sql
// test/db/migrations.test.ts fails while a "public". is left.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./db/migrations",
});
