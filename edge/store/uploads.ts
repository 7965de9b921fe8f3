import { and, eq, gt, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.js";
import { apiKeys, uploads, type Upload } from "../../db/schema.js";

/** How long an upload that was PUT but never made a job is kept after its URL expired, before it is swept. */
export const UNUSED_UPLOAD_RETENTION_MS = 24 * 3600_000;

export async function recordUpload(db: Db, upload: Pick<Upload, "id" | "apiKeyId" | "blobKey" | "maxBytes" | "expiresAt">): Promise<void> {
  await db.insert(uploads).values(upload);
}

/** Why a PUT to an upload URL is refused, for the caller's error message. */
export type PutRefusal = "unknown" | "expired" | "already_received" | "already_used" | "key_revoked";

/**
 * Lets one PUT in: atomically marks the upload as receiving, only while it is unused, unexpired and its key is
 * active. Two PUTs racing on one URL cannot both pass; a PUT after the job exists, after DELETE (the job row
 * stays) or after the key was revoked is refused.
 */
export async function claimUploadPut(db: Db, uploadId: string, blobKey: string, now: Date): Promise<{ upload: Upload } | { refused: PutRefusal }> {
  const [claimed] = await db
    .update(uploads)
    .set({ receivedAt: now })
    .where(
      and(
        eq(uploads.id, uploadId),
        eq(uploads.blobKey, blobKey),
        isNull(uploads.receivedAt),
        isNull(uploads.usedAt),
        gt(uploads.expiresAt, now),
        sql`exists (select 1 from ${apiKeys} where ${apiKeys.id} = ${uploads.apiKeyId} and ${apiKeys.revokedAt} is null)`,
      ),
    )
    .returning();
  if (claimed) return { upload: claimed };
  const [current] = await db
    .select({ upload: uploads, revokedAt: apiKeys.revokedAt })
    .from(uploads)
    .innerJoin(apiKeys, eq(apiKeys.id, uploads.apiKeyId))
    .where(and(eq(uploads.id, uploadId), eq(uploads.blobKey, blobKey)));
  if (!current) return { refused: "unknown" };
  if (current.upload.usedAt) return { refused: "already_used" };
  if (current.revokedAt) return { refused: "key_revoked" };
  if (current.upload.receivedAt) return { refused: "already_received" };
  return { refused: "expired" };
}

/** The PUT stored the body: the upload can make its job. */
export async function markUploadReceived(db: Db, uploadId: string, bytes: number): Promise<void> {
  await db.update(uploads).set({ receivedBytes: bytes }).where(eq(uploads.id, uploadId));
}

/** The PUT failed (short body, storage error): the URL may be used again until it expires. */
export async function releaseUploadPut(db: Db, uploadId: string): Promise<void> {
  await db.update(uploads).set({ receivedAt: null, receivedBytes: null }).where(and(eq(uploads.id, uploadId), isNull(uploads.usedAt)));
}

/**
 * Marks the upload used by `jobId`, in the job's insert transaction; false when it is unknown, another key's,
 * already used, or (relay URLs) not completely received. Bucket URLs are PUT past the API, so only their
 * row's existence is known here.
 */
export async function useUpload(tx: Tx, uploadId: string, apiKeyId: string, jobId: string, now: Date, requireReceived: boolean): Promise<boolean> {
  const [used] = await tx
    .update(uploads)
    .set({ usedAt: now, jobId })
    .where(
      and(
        eq(uploads.id, uploadId),
        eq(uploads.apiKeyId, apiKeyId),
        isNull(uploads.usedAt),
        requireReceived ? isNotNull(uploads.receivedBytes) : undefined,
        gt(uploads.expiresAt, new Date(now.getTime() - UNUSED_UPLOAD_RETENTION_MS)),
      ),
    )
    .returning({ id: uploads.id });
  return used !== undefined;
}

/**
 * Removes uploads that never made a job, UNUSED_UPLOAD_RETENTION_MS after their URL expired: their blobs first,
 * then their rows. Bounded per call, so it can run on the request path (Workers have no timers).
 */
export async function sweepUnusedUploads(db: Db, deleteBlob: (key: string) => Promise<void>, now: Date, limit = 20): Promise<number> {
  const cutoff = new Date(now.getTime() - UNUSED_UPLOAD_RETENTION_MS);
  const stale = await db
    .select({ id: uploads.id, blobKey: uploads.blobKey })
    .from(uploads)
    .where(and(isNull(uploads.usedAt), lt(uploads.expiresAt, cutoff)))
    .limit(limit);
  for (const upload of stale) {
    await deleteBlob(upload.blobKey);
    await db.delete(uploads).where(and(eq(uploads.id, upload.id), isNull(uploads.usedAt)));
  }
  return stale.length;
}
