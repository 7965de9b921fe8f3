import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parseServiceConfig } from "../../shared/config.js";
import { contextCopies, dockerfilePath, dockerignore, execForm, readDockerfile, repoRoot, resolveImage, stageEnv } from "./dockerfile.js";

// dockerfilelint is CommonJS with a `run(configDir, content)` API.
const { run: lintDockerfile } = createRequire(import.meta.url)("dockerfilelint") as {
  run(configDir: string, content: string): { title: string; category?: string; line: number; rule: string }[];
};

const text = readFileSync(dockerfilePath, "utf8");
const lines = text.split("\n");
const parsed = readDockerfile();
const runtime = parsed.stages[parsed.stages.length - 1];
const deps = parsed.stages.find((s) => s.name === "deps");
const stageNames = new Set(parsed.stages.map((s) => s.name).filter(Boolean));
const last = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).at(-1);

describe("gpu-worker/Dockerfile", () => {
  it("passes dockerfilelint, apart from its known misreadings", () => {
    // dockerfilelint 1.8 cannot see through FROM ${ARG}, stage names or scratch ("missing tag"; tags are checked
    // below with the ARG defaults filled in), and its HEALTHCHECK check reads --start-period as "--start".
    const misreading = (item: { rule: string; line: number }) => {
      const source = lines[item.line - 1] ?? "";
      if (item.rule === "missing_tag") {
        const image = /^FROM\s+(?:--\S+\s+)?(\S+)/i.exec(source)?.[1] ?? "";
        return image === "scratch" || stageNames.has(image) || /^\$\{\w+\}$/.test(image);
      }
      if (item.rule === "invalid_format" && /^HEALTHCHECK\s/.test(source)) {
        const options = source.slice(0, source.indexOf(" CMD ")).match(/--[\w-]+/g) ?? [];
        return options.every((o) => ["--interval", "--timeout", "--start-period", "--start-interval", "--retries"].includes(o));
      }
      return false;
    };
    const findings = lintDockerfile(repoRoot, text).filter((item) => !misreading(item));
    expect(findings).toEqual([]);
  });

  it("pins every base image to a tag (no latest), with ARG defaults resolved", () => {
    for (const stage of parsed.stages) {
      const image = resolveImage(stage.image, parsed.globalArgs);
      if (image === "scratch" || stageNames.has(image)) continue;
      expect(image, stage.image).toMatch(/^[^:@\s]+(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?$/);
      expect(image, stage.image).toMatch(/:|@sha256:/);
      expect(image, stage.image).not.toMatch(/:latest\b/);
    }
    expect(resolveImage(runtime.image, parsed.globalArgs)).toMatch(/^nvidia\/cuda:1[23]\.\d+\.\d+-cudnn-runtime-/);
    expect(deps?.image).toMatch(/^node:20\.\d+\.\d+-/);
  });

  it("runs as a non-root user with a numeric uid (so Kubernetes can verify runAsNonRoot)", () => {
    const user = last("USER")?.args ?? "";
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    // USER comes after everything that needs root.
    const userIndex = runtime.instructions.findIndex((i) => i.keyword === "USER");
    expect(runtime.instructions.slice(userIndex).some((i) => i.keyword === "RUN")).toBe(false);
  });

  it("has a HEALTHCHECK, STOPSIGNAL SIGTERM, and the worker as PID 1's child", () => {
    const health = last("HEALTHCHECK");
    expect(health?.args).toMatch(/--start-period=\d+s/);
    expect(execForm(health!.args)).toEqual(["node", "gpu-worker/healthcheck.mjs"]);
    expect(last("STOPSIGNAL")?.args).toBe("SIGTERM");
    expect(execForm(last("ENTRYPOINT")!.args)).toEqual(["/usr/bin/tini", "--"]);
    expect(execForm(last("CMD")!.args)).toEqual(["node", "--import", "tsx", "gpu-worker/main.ts"]);
  });

  it("documents a stop timeout longer than the worker's graceful stop", () => {
    const graceSeconds = parseServiceConfig({}).worker.shutdownGraceMs / 1000;
    const said = /--stop-timeout (\d+)/.exec(text)?.[1];
    expect(Number(said)).toBeGreaterThan(graceSeconds);
  });

  it("allows onnxruntime-node's CUDA download in the image build only", () => {
    // Everywhere else .npmrc skips it (no CUDA download on developer machines and CI).
    expect(readFileSync(join(repoRoot, ".npmrc"), "utf8")).toMatch(/^onnxruntime-node-install=skip$/m);
    const npmCi = deps?.instructions.filter((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args)) ?? [];
    expect(npmCi).toHaveLength(1);
    expect(npmCi[0].args).toMatch(/^ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci\b/);
    expect(npmCi[0].args).not.toMatch(/--ignore-scripts/);
    expect(npmCi[0].args).toContain("libonnxruntime_providers_cuda.so");
    // A per-command variable, never ENV: it must not leak into the runtime image or other stages.
    for (const stage of parsed.stages) {
      for (const ins of stage.instructions) {
        if (ins.keyword === "ENV" || ins.keyword === "ARG") expect(ins.args).not.toMatch(/ONNXRUNTIME_NODE_INSTALL/);
      }
    }
    // The deps stage copies .npmrc, so its other settings still apply and the override is explicit.
    expect(contextCopies(deps!).flatMap((c) => c.sources)).toContain(".npmrc");
  });

  it("checks at build time that the CUDA EP's libraries are in the base image", () => {
    const check = runtime.instructions.find((i) => i.keyword === "RUN" && i.args.includes("ldd"));
    expect(check?.args).toContain("libonnxruntime_providers_cuda.so");
    expect(check?.args).toMatch(/exit 1/);
  });

  it("defaults to a GPU deployment: CUDA, a 5 GiB budget, jemalloc, the model under /models", () => {
    const env = stageEnv(runtime);
    expect(env.EXECUTION_PROVIDER).toBe("cuda");
    expect(Number(env.GPU_MEMORY_BUDGET_BYTES)).toBe(5 * 1024 ** 3);
    expect(env.MODEL_DIR).toMatch(/^\/models\//);
    expect(env.LD_PRELOAD).toMatch(/libjemalloc\.so\.2$/);
    expect(env.WORKER_METRICS_PORT).toBe("9464");
    expect(runtime.instructions.some((i) => i.keyword === "RUN" && /\bffmpeg\b/.test(i.args) && /\blibjemalloc2\b/.test(i.args))).toBe(true);
    // Baking a model in: an empty stage that `--build-context model=DIR` replaces.
    expect(parsed.stages.find((s) => s.name === "model")?.image).toBe("scratch");
    expect(runtime.instructions.some((i) => i.keyword === "COPY" && /--from=model\b/.test(i.args))).toBe(true);
  });

  it("copies only what .dockerignore lets into the context, and keeps the heavy folders out", () => {
    const ignored = dockerignore(readFileSync(join(repoRoot, ".dockerignore"), "utf8"));
    for (const stage of parsed.stages) {
      for (const { sources } of contextCopies(stage)) for (const source of sources) expect(ignored(source), source).toBe(false);
    }
    for (const path of ["node_modules/onnxruntime-node/package.json", ".data/pglite/PG_VERSION", "test-artifacts/x", "tools/.work/x", "test/fixtures/models/tiny-random/config.json", "models/qwen3-asr-synth-en/config.json", ".git/HEAD", "gpu-worker/node_modules/x", ".env"]) {
      expect(ignored(path), path).toBe(true);
    }
  });
});
