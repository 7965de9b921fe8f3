import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { apiKeys, browserTokenGrants, browserTokens, type ApiKey, type BrowserToken } from "../../db/schema.js";
import { hashApiKey } from "./api-keys.js";

export const BROWSER_TOKEN_PREFIX = "bt_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

const randomText = (length: number, alphabet: string): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(length)), (b) => alphabet[b % alphabet.length]).join("");

/** `bt_` + 32 base62 characters: told apart from secret keys (`sk_live_`) by its prefix alone. */
export const generateBrowserToken = (): string => BROWSER_TOKEN_PREFIX + randomText(32, ALPHABET);

export const isBrowserToken = (bearer: string): boolean => bearer.startsWith(BROWSER_TOKEN_PREFIX);

export interface MintedBrowserToken {
  token: string;
  record: BrowserToken;
}

export async function mintBrowserToken(db: Db, apiKeyId: string, options: { origin: string | null; expiresAt: Date }): Promise<MintedBrowserToken> {
  const token = generateBrowserToken();
  const [record] = await db
    .insert(browserTokens)
    .values({ id: `btk_${randomText(24, ID_ALPHABET)}`, apiKeyId, tokenHash: await hashApiKey(token), origin: options.origin, expiresAt: options.expiresAt })
    .returning();
  return { token, record };
}

/** The token and its key when both are live (not revoked, not expired); null otherwise. */
export async function findLiveBrowserToken(db: Db, token: string, now: Date): Promise<{ token: BrowserToken; apiKey: ApiKey } | null> {
  const [row] = await db
    .select({ token: browserTokens, apiKey: apiKeys })
    .from(browserTokens)
    .innerJoin(apiKeys, eq(apiKeys.id, browserTokens.apiKeyId))
    .where(
      and(
        eq(browserTokens.tokenHash, await hashApiKey(token)),
        isNull(browserTokens.revokedAt),
        gt(browserTokens.expiresAt, now),
        isNull(apiKeys.revokedAt),
      ),
    )
    .limit(1);
  return row ?? null;
}

/** Revokes one of the key's tokens; null when the key has no such token. Revoking twice keeps the first time. */
export async function revokeBrowserToken(db: Db, apiKeyId: string, tokenId: string): Promise<BrowserToken | null> {
  const [row] = await db
    .update(browserTokens)
    .set({ revokedAt: sql`coalesce(${browserTokens.revokedAt}, now())` })
    .where(and(eq(browserTokens.id, tokenId), eq(browserTokens.apiKeyId, apiKeyId)))
    .returning();
  return row ?? null;
}

/** Records that the token made `resourceId` (an upload or a job); recording it again is harmless. */
export async function grantToBrowserToken(db: Db, tokenId: string, resourceId: string): Promise<void> {
  await db.insert(browserTokenGrants).values({ tokenId, resourceId }).onConflictDoNothing();
}

export async function browserTokenOwns(db: Db, tokenId: string, resourceId: string): Promise<boolean> {
  const [row] = await db
    .select({ one: sql<number>`1` })
    .from(browserTokenGrants)
    .where(and(eq(browserTokenGrants.tokenId, tokenId), eq(browserTokenGrants.resourceId, resourceId)))
    .limit(1);
  return row !== undefined;
}

/** Whether any live key lists `origin`: a preflight carries no credentials, so it can only be judged this way. */
export async function anyKeyAllowsOrigin(db: Db, origin: string): Promise<boolean> {
  const [row] = await db
    .select({ one: sql<number>`1` })
    .from(apiKeys)
    .where(and(isNull(apiKeys.revokedAt), sql`${origin} = any(${apiKeys.allowedOrigins})`))
    .limit(1);
  return row !== undefined;
}
