import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { apiKeys, type ApiKey } from "../../db/schema.js";
import { newWebhookSecret } from "../../shared/webhook-secret.js";

const KEY_PREFIX = "sk_live_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `sk_live_` + 32 base62 characters (≈ 190 bits). Recognisable in logs and by secret scanners. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return KEY_PREFIX + Array.from(bytes, (b) => ALPHABET[b % 62]).join("");
}

export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What users see of a key after creation: enough to tell keys apart, useless to an attacker. */
export const displayPrefix = (key: string): string => key.slice(0, KEY_PREFIX.length + 4);

export interface CreatedApiKey {
  key: string;
  record: ApiKey;
}

export async function createApiKey(
  db: Db,
  options: { name: string; key?: string; rateLimitPerMinute?: number | null; monthlyAudioSecondsQuota?: number | null; allowedOrigins?: string[] },
): Promise<CreatedApiKey> {
  const key = options.key ?? generateApiKey();
  const [record] = await db
    .insert(apiKeys)
    .values({
      name: options.name,
      keyPrefix: displayPrefix(key),
      keyHash: await hashApiKey(key),
      webhookSecret: newWebhookSecret(),
      rateLimitPerMinute: options.rateLimitPerMinute ?? null,
      monthlyAudioSecondsQuota: options.monthlyAudioSecondsQuota ?? null,
      allowedOrigins: options.allowedOrigins ?? [],
    })
    .returning();
  return { key, record };
}

/** Makes sure `key` exists (BOOTSTRAP_API_KEY); returns its record. */
export async function ensureApiKey(db: Db, key: string, name: string): Promise<ApiKey> {
  const existing = await findActiveApiKey(db, key);
  if (existing) return existing;
  const hash = await hashApiKey(key);
  const [found] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash)).limit(1);
  if (found) throw new Error(`the bootstrap API key ${displayPrefix(key)}… exists but was revoked`);
  return (await createApiKey(db, { name, key })).record;
}

export async function findActiveApiKey(db: Db, key: string): Promise<ApiKey | null> {
  const hash = await hashApiKey(key);
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ?? null;
}
