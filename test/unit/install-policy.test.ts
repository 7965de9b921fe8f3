import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("a quiet, explained install", () => {
  it("decides on every dependency's install script, so npm 11 prints no install-scripts notice", () => {
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = new Set(
      Object.entries(lock.packages)
        .filter(([, entry]) => entry.hasInstallScript)
        .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)),
    );
    const pkg = JSON.parse(read("package.json")) as { allowScripts: Record<string, boolean>; scarfSettings?: { enabled: boolean } };
    expect([...withScripts].filter((name) => !(name in pkg.allowScripts))).toEqual([]);
    // The one script that matters: onnxruntime-node's CUDA download, which the Dockerfile asks for (.npmrc skips it elsewhere).
    expect(pkg.allowScripts["onnxruntime-node"]).toBe(true);
    // swagger-ui-dist's install-time analytics: off.
    expect(pkg.scarfSettings?.enabled).toBe(false);
  });

  it("says in the README why the remaining npm warnings are harmless", () => {
    const readme = read("README.md");
    expect(readme).toContain('Unknown project config "onnxruntime-node-install"');
    expect(readme).toContain("EBADENGINE");
  });
});
