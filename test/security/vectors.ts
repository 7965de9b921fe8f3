import { it } from "vitest";

/**
 * An attack vector is one test whose name starts with VECTOR: it is tried when it runs and holds when it
 * passes. test/security/vector-reporter.ts counts them, so the suite's log says how many were tried and held.
 */
export const VECTOR = "vector:";

export function vector(name: string, fn: () => Promise<void> | void, timeout?: number): void {
  it(`${VECTOR} ${name}`, fn, timeout);
}

/** One vector per case, named by `name(case)`. */
export function vectors<T>(cases: readonly T[], name: (c: T) => string, fn: (c: T) => Promise<void> | void, timeout?: number): void {
  for (const c of cases) vector(name(c), () => fn(c), timeout);
}
