import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { DocsAssets } from "./deps.js";

// swagger-ui-dist ships the built browser files; they are served as they are (Node only: Workers use the CDN).
const SWAGGER_UI_DIST = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** Everything /docs/assets/swagger-ui-dist/ serves: a fixed table, so no request can name another file. */
const FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const cache = new Map<string, Promise<string>>();

/** Swagger UI's stylesheet and script from node_modules, read once. */
export const nodeDocsAssets: DocsAssets = async (name) => {
  const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!type) return null;
  let body = cache.get(name);
  if (!body) {
    body = readFile(join(SWAGGER_UI_DIST, name), "utf8");
    cache.set(name, body);
    body.catch(() => cache.delete(name));
  }
  return { body: await body, type };
};
