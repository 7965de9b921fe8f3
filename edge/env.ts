import type { ApiKey } from "../db/schema.js";
import type { EdgeDeps } from "./deps.js";

/** Hono's context typing for this app: the authenticated key and the dependencies. */
export interface AppEnv {
  Variables: {
    deps: EdgeDeps;
    apiKey: ApiKey;
    requestId: string;
  };
}
