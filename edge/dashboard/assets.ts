import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const STATIC_DIR = fileURLToPath(new URL("./static/", import.meta.url));
// uPlot ships ready-built browser files; they are served as they are, no bundler involved.
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve("uplot"));

interface Asset {
  path: string;
  type: string;
}

/** Everything /dashboard/assets/ serves: a fixed table, so no request can name another file. */
const ASSETS: Record<string, Asset> = {
  "dashboard.js": { path: join(STATIC_DIR, "dashboard.js"), type: "text/javascript; charset=utf-8" },
  "dashboard.css": { path: join(STATIC_DIR, "dashboard.css"), type: "text/css; charset=utf-8" },
  "uPlot.iife.min.js": { path: join(UPLOT_DIST, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "uPlot.min.css": { path: join(UPLOT_DIST, "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

const PAGES = { dashboard: join(STATIC_DIR, "index.html"), login: join(STATIC_DIR, "login.html") } as const;

const cache = new Map<string, Promise<string>>();
const cached = (path: string): Promise<string> => {
  let text = cache.get(path);
  if (!text) {
    text = readFile(path, "utf8");
    cache.set(path, text);
    text.catch(() => cache.delete(path));
  }
  return text;
};

export async function dashboardAsset(name: string): Promise<{ body: string; type: string } | null> {
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  return asset ? { body: await cached(asset.path), type: asset.type } : null;
}

export const dashboardPage = (page: keyof typeof PAGES): Promise<string> => cached(PAGES[page]);
