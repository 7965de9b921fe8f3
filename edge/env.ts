import type { ApiKey, BrowserToken } from "../db/schema.js";
import type { EdgeDeps } from "./deps.js";

/** Hono's context typing for this app: the authenticated key and the dependencies. */
export interface AppEnv {
  Variables: {
    deps: EdgeDeps;
    apiKey: ApiKey;
    /** Set when the request came with a browser token (`bt_…`) instead of the key itself. */
    browserToken: BrowserToken | undefined;
    requestId: string;
  };
}
