import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { progressBar } from "../../cli/transcribe.js";
import { testDatabase, type TestDatabase } from "../support/database.js";

const run = promisify(execFile);

describe("keys CLI", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase("postgres");
  });
  afterAll(() => database.cleanup());

  const keys = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "cli/keys.ts", ...args], { env: { ...process.env, DATABASE_URL: database.url } });

  it("creates, lists and revokes keys", async () => {
    const created = JSON.parse((await keys("create", "--name", "cli test", "--rate-limit", "7", "--json")).stdout);
    expect(created.key).toMatch(/^sk_live_/);
    expect(created.rate_limit_per_minute).toBe(7);
    const listed = JSON.parse((await keys("list", "--json")).stdout);
    expect(listed.map((k: { id: string }) => k.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect((await keys("revoke", created.id)).stdout).toMatch(/revoked/);
    const after = JSON.parse((await keys("list", "--json")).stdout);
    expect(after.find((k: { id: string }) => k.id === created.id).revoked_at).not.toBeNull();
  }, 60_000);

  it("explains its usage on a bad command", async () => {
    await expect(keys("frobnicate")).rejects.toMatchObject({ code: 2 });
  }, 30_000);
});

describe("progress bar", () => {
  it("fills with the fraction", () => {
    expect(progressBar(0, 10)).toBe("[..........]   0%");
    expect(progressBar(0.5, 10)).toBe("[#####.....]  50%");
    expect(progressBar(2, 10)).toBe("[##########] 100%");
  });
});
