import { eq } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../../db/client.js";
import { jobs } from "../../db/schema.js";
import { testDatabase, type TestDatabase } from "../support/database.js";
import { insertApiKey, insertJob } from "./fixtures.js";

describe("embedded PGlite server", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase("pglite");
  });
  afterAll(() => database?.cleanup());

  it("keeps its data across close and reopen of the same data directory", async () => {
    const key = await insertApiKey(database.db);
    const job = await insertJob(database.db, key.id, { filename: "kept.wav" });
    await database.close();

    const reopened = await createDatabase({ dataDir: database.dataDir });
    try {
      const [row] = await reopened.db.select().from(jobs).where(eq(jobs.id, job.id));
      expect(row.filename).toBe("kept.wav");
    } finally {
      await reopened.close();
    }
    database = { ...database, ...(await createDatabase({ dataDir: database.dataDir })) };
  });

  it("refuses a second server on a data directory that is being served", async () => {
    await expect(createDatabase({ dataDir: database.dataDir })).rejects.toThrow(
      new RegExp(`in use by process ${process.pid} at postgres://`),
    );
  });

  it("serves its URL to other clients, interleaving them only between whole requests", async () => {
    const others = [1, 2, 3].map(() => postgres(database.url, { max: 2, onnotice: () => undefined }));
    const clients = [database.sql, ...others];
    try {
      await database.sql`create temporary table tally (client int, n int, primary key (client, n))`;
      const wrong: string[] = [];
      await Promise.all(
        clients.map(async (client, c) => {
          const requests: Promise<unknown>[] = [];
          for (let n = 0; n < 40; n++) {
            if (n % 4 === 0) {
              requests.push(client`select nonexistent_function(${n})`.then(() => wrong.push(`no error ${c}/${n}`), () => 0));
            } else if (n % 4 === 1) {
              requests.push(
                client.begin(async (tx) => {
                  await tx`insert into tally values (${c}, ${n})`;
                  const [row] = await tx<{ count: number }[]>`select count(*)::int as count from tally where client = ${c} and n = ${n}`;
                  if (row.count !== 1) wrong.push(`tx ${c}/${n}`);
                }),
              );
            } else {
              requests.push(
                client<{ who: string; n: number }[]>`select ${`client ${c}`}::text as who, ${n}::int as n`.then(([row]) => {
                  if (row?.who !== `client ${c}` || row.n !== n) wrong.push(`row ${c}/${n}: ${JSON.stringify(row)}`);
                }),
              );
            }
          }
          await Promise.all(requests);
        }),
      );
      expect(wrong).toEqual([]);
      const [row] = await others[0]<{ count: number }[]>`select count(*)::int as count from tally`;
      expect(row.count).toBe(clients.length * 10);
    } finally {
      await Promise.all(others.map((client) => client.end()));
    }
  });

  it("rolls back the open transaction of a client that disconnects", async () => {
    const key = await insertApiKey(database.db);
    const other = postgres(database.url, { max: 1, onnotice: () => undefined });
    const connection = await other.reserve();
    await connection`begin`;
    await connection`update api_keys set name = 'uncommitted' where id = ${key.id}`;
    connection.release();
    await other.end({ timeout: 0 });

    const [row] = await database.sql<{ name: string }[]>`select name from api_keys where id = ${key.id}`;
    expect(row.name).toBe(key.name);
  });

  it("cannot isolate by schema", async () => {
    await expect(createDatabase({ dataDir: "memory://", schema: "nope" })).rejects.toThrow(/dataDir/);
  });
});

describe("schemas on a real server", () => {
  let first: TestDatabase;
  let second: TestDatabase;
  beforeAll(async () => {
    [first, second] = await Promise.all([testDatabase("postgres"), testDatabase("postgres")]);
  });
  afterAll(() => Promise.all([first?.cleanup(), second?.cleanup()]));

  it("keep databases apart, and the URL leads another client to the same schema", async () => {
    const key = await insertApiKey(first.db);
    expect(await second.db.query.apiKeys.findMany()).toEqual([]);

    const sameAsFirst = await createDatabase({ url: first.url });
    try {
      expect(sameAsFirst.schema).toBe(first.schema);
      const [row] = await sameAsFirst.db.query.apiKeys.findMany();
      expect(row.id).toBe(key.id);
    } finally {
      await sameAsFirst.close();
    }
  });
});
