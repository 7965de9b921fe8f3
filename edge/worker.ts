import type { ExecutionContext } from "hono";
import { ApiError } from "../shared/api-error.js";
import { createApp } from "./app.js";
import { workerDeps, type RequestDeps } from "./workers/deps.js";
import type { WorkerEnv } from "./workers/env.js";

/**
 * The API on Cloudflare Workers: the same Hono app as on Node (edge/node.ts), with its dependencies built from
 * the bindings for each request, since postgres.js connections cannot outlive the request that opened them.
 */
export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let requestDeps: RequestDeps;
    try {
      requestDeps = workerDeps(env);
    } catch (error) {
      // A missing binding or variable: say so in the log, not to the caller.
      console.error(JSON.stringify({ level: "error", msg: "worker misconfigured", error: String(error) }));
      return Response.json(new ApiError("internal_error", "internal error").toJSON(), { status: 500 });
    }
    try {
      return await createApp(requestDeps.deps).fetch(request, env, ctx);
    } finally {
      ctx.waitUntil(requestDeps.close());
    }
  },
};
