import { ApiError } from "../shared/api-error.js";
import type { ApiKey } from "../db/schema.js";
import type { EdgeDeps } from "./deps.js";
import type { Tx } from "../db/client.js";
import { lockKeyQuota, monthlyAudioSeconds } from "./store/limits.js";

const monthStart = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
const nextMonthStart = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));

/** Refuses a job that would take the key past its monthly audio quota (429 until the month turns). */
export async function checkQuota(deps: EdgeDeps, key: ApiKey, durationSeconds: number, tx?: Tx): Promise<void> {
  const quota = key.monthlyAudioSecondsQuota ?? deps.config.rateLimits.monthlyAudioSeconds;
  const at = deps.now?.() ?? new Date();
  const used = await monthlyAudioSeconds(tx ?? deps.db, key.id, monthStart(at));
  if (used + Math.ceil(durationSeconds) > quota) {
    const retryAfter = Math.ceil((nextMonthStart(at).getTime() - at.getTime()) / 1000);
    throw new ApiError(
      "quota_exceeded",
      `monthly audio quota of ${(quota / 3600).toFixed(2)} h would be exceeded (${(used / 3600).toFixed(2)} h used, this file ${(durationSeconds / 3600).toFixed(3)} h)`,
      { "Retry-After": String(retryAfter) },
    );
  }
}

/**
 * The quota check that counts: in the job's insert transaction, under a per-key lock, so the job's seconds are
 * reserved (a queued job counts as used) before any other request of the key can check. `checkQuota` alone, ahead
 * of storing the audio, only spares the upload when the answer is already known to be no.
 */
export function reserveQuota(deps: EdgeDeps, key: ApiKey, durationSeconds: number): (tx: Tx) => Promise<void> {
  return async (tx) => {
    await lockKeyQuota(tx, key.id);
    await checkQuota(deps, key, durationSeconds, tx);
  };
}
