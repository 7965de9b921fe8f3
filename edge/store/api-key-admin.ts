import { desc, eq } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { apiKeys, type ApiKey } from "../../db/schema.js";

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  rate_limit_per_minute: number | null;
  monthly_audio_seconds_quota: number | null;
  allowed_origins: string[];
}

export const apiKeyView = (k: ApiKey): ApiKeyView => ({
  id: k.id,
  name: k.name,
  prefix: k.keyPrefix,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
  rate_limit_per_minute: k.rateLimitPerMinute,
  monthly_audio_seconds_quota: k.monthlyAudioSecondsQuota,
  allowed_origins: k.allowedOrigins,
});

export async function listApiKeys(db: Db): Promise<ApiKey[]> {
  return db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(db: Db, id: string): Promise<ApiKey | null> {
  const [row] = await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning();
  return row ?? null;
}

export async function updateApiKeyLimits(
  db: Db,
  id: string,
  limits: { rateLimitPerMinute?: number | null; monthlyAudioSecondsQuota?: number | null; allowedOrigins?: string[] },
): Promise<ApiKey | null> {
  const [row] = await db.update(apiKeys).set(limits).where(eq(apiKeys.id, id)).returning();
  return row ?? null;
}
