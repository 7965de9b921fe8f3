import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../../db/client.js";
import { apiKeys, jobs, type ApiKey, type Job, type NewJob } from "../../db/schema.js";

export async function insertApiKey(db: Db, name = "test key"): Promise<ApiKey> {
  const key = `sk_test_${randomBytes(16).toString("hex")}`;
  const [row] = await db
    .insert(apiKeys)
    .values({
      name,
      keyPrefix: key.slice(0, 12),
      keyHash: createHash("sha256").update(key).digest("hex"),
      webhookSecret: `whsec_${randomBytes(24).toString("base64")}`,
    })
    .returning();
  return row;
}

export async function insertJob(db: Db, apiKeyId: string, fields: Partial<NewJob> = {}): Promise<Job> {
  const [row] = await db
    .insert(jobs)
    .values({
      id: `tr_${randomBytes(8).toString("hex")}`,
      apiKeyId,
      audioKey: "audio/test.wav",
      audioBytes: 32_044,
      contentType: "audio/wav",
      ...fields,
    })
    .returning();
  return row;
}
