import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

export interface WorkersEdgeOptions {
  /** 0 for any free port. */
  port: number;
  /** What the HYPERDRIVE binding connects to locally (wrangler.toml's localConnectionString stands in otherwise). */
  databaseUrl: string;
  /** Variables and secrets over wrangler.toml's [vars] (and over .dev.vars unless `devVars` is false). */
  vars: Record<string, string>;
  /** Whether .dev.vars is read as `wrangler dev` reads it. Tests say no, so a developer's file cannot change them. */
  devVars?: boolean;
}

export interface WorkersEdge {
  url: string;
  stop(): Promise<void>;
}

/**
 * edge/worker.ts on workerd, as `wrangler dev` runs it (wrangler's programmatic API, wrangler.toml's bindings),
 * bound to 127.0.0.1. Hyperdrive connects straight to `databaseUrl`, which must carry a password even where the
 * server ignores it (trust auth, PGlite): wrangler refuses a connection string without one.
 */
export async function startWorkersEdge(options: WorkersEdgeOptions): Promise<WorkersEdge> {
  // No network here: miniflare would fetch a Request.cf sample from workers.cloudflare.com, and wrangler report usage.
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
  process.env.WRANGLER_SEND_METRICS ??= "false";
  const databaseUrl = new URL(options.databaseUrl);
  databaseUrl.password ||= "postgres";
  // Hyperdrive drops query parameters; the schema goes through DATABASE_SEARCH_PATH instead.
  const searchPath = databaseUrl.searchParams.get("search_path");
  databaseUrl.search = "";
  const vars = { ...(searchPath && !options.vars.DATABASE_SEARCH_PATH ? { DATABASE_SEARCH_PATH: searchPath } : {}), ...options.vars };
  const worker = await unstable_startWorker({
    config: join(ROOT, "wrangler.toml"),
    // A file list that names no existing file keeps wrangler from reading .dev.vars (and .env).
    ...(options.devVars === false ? { envFiles: [".dev.vars.ignored-by-tests"] } : {}),
    sendMetrics: false,
    bindings: {
      HYPERDRIVE: { type: "hyperdrive", id: "00000000000000000000000000000000", localConnectionString: databaseUrl.toString() },
      ...Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }])),
    },
    dev: {
      server: { hostname: "127.0.0.1", port: options.port },
      inspector: false,
      watch: false,
      // Audio goes through the S3 API here; nothing is kept in wrangler's local storage.
      persist: false,
      // Errors only: esbuild's warnings about node:* imports are noise under nodejs_compat.
      logLevel: "error",
    },
  });
  try {
    await worker.ready;
    const url = (await worker.url).toString().replace(/\/$/, "");
    return { url, stop: () => worker.dispose() };
  } catch (error) {
    await worker.dispose().catch(() => undefined);
    throw error;
  }
}
