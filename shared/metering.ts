/** Billable seconds of a job: its decoded duration rounded up to the second, never below the minimum. */
export function billableSeconds(durationSeconds: number, minimumSeconds: number): number {
  if (!(durationSeconds >= 0)) throw new RangeError(`duration must be a non-negative number, got ${durationSeconds}`);
  return Math.max(minimumSeconds, Math.ceil(durationSeconds - 1e-9));
}
