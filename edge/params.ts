/**
 * Shapes that path, query and cursor values must have before they reach Postgres: a value it cannot store
 * (a NUL byte, a date before year 1 or past 9999) is the caller's mistake, answered with a 4xx, never a 500.
 */

/** Job ids as newJobId() makes them; anything else cannot name a job. */
export const JOB_ID = /^tr_[0-9a-z]{24}$/;

export const isJobId = (value: string): boolean => JOB_ID.test(value);

/** The instants the API takes and returns: ISO dates within years 1970–9999 (what every client can print). */
export const EARLIEST_INSTANT = new Date(Date.UTC(1970, 0, 1));
export const LATEST_INSTANT = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

/** The instant, or null when it is not a date or lies outside the years the API takes. */
export function parseInstant(value: string): Date | null {
  // Date.parse also takes "1", "0x10" or "March 7": only ISO 8601 dates and times are the API's.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || at < EARLIEST_INSTANT || at > LATEST_INSTANT) return null;
  return at;
}
