import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Every module reachable from `entry` through static imports (relative .js specifiers map to .ts files). */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const source = readFileSync(file, "utf8");
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
    graph.set(file, specifiers);
    for (const s of specifiers) if (s.startsWith(".")) visit(resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  };
  visit(resolve(ROOT, entry));
  return graph;
}

describe("the Workers build of the edge", () => {
  // The Workers entry point when it exists, else the app it wraps.
  const entry = existsSync(resolve(ROOT, "edge/worker.ts")) ? "edge/worker.ts" : "edge/app.ts";

  it("never reaches prom-client, the Node-only metrics or the dashboard", () => {
    const graph = importGraph(entry);
    const files = [...graph.keys()].map((f) => f.slice(ROOT.length));
    expect(files).toContain("edge/routes/observability.ts"); // the recommendations route is on Workers too
    expect(files.filter((f) => f === "edge/metrics.ts" || f.startsWith("edge/observability/") || f.startsWith("edge/dashboard/"))).toEqual([]);
    const packages = [...graph.values()].flat().filter((s) => !s.startsWith("."));
    expect(packages).not.toContain("prom-client");
  });

  it("while edge/node.ts does register them", () => {
    const files = [...importGraph("edge/node.ts").keys()].map((f) => f.slice(ROOT.length));
    expect(files).toEqual(expect.arrayContaining(["edge/metrics.ts", "edge/observability/node-observability.ts", "edge/dashboard/routes.ts"]));
  });
});
