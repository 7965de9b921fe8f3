/** When the next webhook attempt happens, and whether an answer ends the delivery. Pure. */

export type Outcome = { kind: "succeeded" } | { kind: "retry"; reason: string } | { kind: "stop"; reason: string };

/** 2xx succeeds; 410 means the endpoint is gone; other 4xx are the receiver refusing (no retry) except the
 * ones that invite one (408 timeout, 409, 425, 429); 5xx and network failures are retried. */
export function classify(status: number | null, error?: string): Outcome {
  if (status === null) return { kind: "retry", reason: error ?? "no response" };
  if (status >= 200 && status < 300) return { kind: "succeeded" };
  if (status === 410) return { kind: "stop", reason: "the receiver answered 410 Gone" };
  if ([408, 409, 425, 429].includes(status) || status >= 500) return { kind: "retry", reason: `HTTP ${status}` };
  return { kind: "stop", reason: `the receiver refused with HTTP ${status}` };
}

/** Seconds in a Retry-After header (delta-seconds or HTTP date), or null. */
export function retryAfterSeconds(header: string | null, now: Date): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, (at - now.getTime()) / 1000);
}

/**
 * Next attempt time after `attemptsMade` attempts of an event created at `createdAt`, following the schedule
 * (seconds after the event, e.g. 0, 5, 300, 1800, …, 86400) with ± jitter, never before a Retry-After, or null
 * when the schedule is exhausted (the delivery gives up).
 */
export function nextAttemptAt(
  createdAt: Date,
  attemptsMade: number,
  scheduleSeconds: readonly number[],
  jitter: number,
  now: Date,
  random: () => number = Math.random,
  retryAfter: number | null = null,
): Date | null {
  if (attemptsMade >= scheduleSeconds.length) return null;
  const planned = createdAt.getTime() + scheduleSeconds[attemptsMade] * 1000;
  const spread = (scheduleSeconds[attemptsMade] - (scheduleSeconds[attemptsMade - 1] ?? 0)) * 1000 * jitter;
  const jittered = planned + (random() * 2 - 1) * spread;
  const earliest = retryAfter === null ? now.getTime() : now.getTime() + retryAfter * 1000;
  const last = createdAt.getTime() + scheduleSeconds[scheduleSeconds.length - 1] * 1000;
  const at = Math.max(jittered, earliest);
  return at > last + spread ? null : new Date(at);
}
