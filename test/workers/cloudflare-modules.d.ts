// The parts of workerd's and the pool's modules these tests use. @cloudflare/workers-types is not installed,
// and the project's tsconfig has Node's types, so they are declared here.

declare module "cloudflare:workers" {
  export const env: Record<string, unknown>;
  export const exports: { default: { fetch(request: Request): Promise<Response> } };
}

declare module "cloudflare:test" {
  export interface TestExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
    props: unknown;
  }
  export function createExecutionContext(): TestExecutionContext;
  export function waitOnExecutionContext(ctx: TestExecutionContext): Promise<void>;
}
