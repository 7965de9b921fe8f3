/**
 * The Cloudflare wiring as written down: wrangler.toml (read by wrangler itself), docs/deploy.md, the worker's
 * Kubernetes config, .dev.vars.example and the variables the Worker reads (edge/workers/env.ts) must name the same
 * bucket, database and secrets, so that a deploy that follows the docs binds what the code expects.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { parse as parseYaml } from "yaml";

const root = new URL("../../", import.meta.url);
const text = (path: string) => readFileSync(new URL(path, root), "utf8");
/** The parts of wrangler's normalised config read here (its types come from a package wrangler does not ship). */
interface WranglerConfig {
  vars: Record<string, unknown>;
  r2_buckets: Array<{ binding: string; bucket_name?: string }>;
  hyperdrive: Array<{ binding: string; localConnectionString?: string }>;
}
const config = unstable_readConfig({ config: new URL("wrangler.toml", root).pathname }) as WranglerConfig;
const deployDoc = text("docs/deploy.md");
const vars = config.vars as Record<string, string>;

/** The Worker's variables and secrets, from the WorkerEnv interface. */
const workerEnvNames = [...text("edge/workers/env.ts").matchAll(/^ {2}([A-Z][A-Z0-9_]+)\??:/gm)].map((m) => m[1]);

describe("Cloudflare wiring", () => {
  it("names one bucket everywhere: binding, presigning, docs, the GPU worker's S3_BUCKET", () => {
    const bucket = config.r2_buckets[0]?.bucket_name;
    expect(config.r2_buckets.map((b) => b.binding)).toEqual(["UPLOADS_BUCKET"]);
    expect(bucket).toBe("qwen3-asr-uploads");
    expect(vars.R2_BUCKET_NAME).toBe(bucket);
    expect([...deployDoc.matchAll(/wrangler r2 bucket (?:create|cors set) (\S+)/g)].map((m) => m[1])).toEqual([bucket, bucket]);
    const workerConfig = parseYaml(text("deploy/k8s/worker-config.yaml")) as { data: Record<string, string> };
    expect(workerConfig.data).toMatchObject({ BLOB_STORE: "s3", S3_BUCKET: bucket, S3_REGION: "auto" });
    expect(workerConfig.data.S3_ENDPOINT).toMatch(/\.r2\.cloudflarestorage\.com$/);
  });

  it("gives the GPU worker R2 credentials of its own, apart from the queue's AWS ones", () => {
    const secret = parseYaml(text("deploy/k8s/secret.example.yaml")) as { stringData: Record<string, string> };
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"]));
    expect(text("shared/adapters/from-env.ts")).toMatch(/env\.S3_ACCESS_KEY_ID && env\.S3_SECRET_ACCESS_KEY/);
    expect(deployDoc).toMatch(/S3_ACCESS_KEY_ID=/);
  });

  it("binds Hyperdrive with a local connection string, created under the name the docs use", () => {
    expect(config.hyperdrive.map((h) => h.binding)).toEqual(["HYPERDRIVE"]);
    expect(config.hyperdrive[0]?.localConnectionString).toMatch(/^postgres:\/\/[^:]+:[^@]+@/); // wrangler needs a password
    const names = new Set([...`${deployDoc}\n${text("wrangler.toml")}`.matchAll(/wrangler hyperdrive create (\S+)/g)].map((m) => m[1]));
    expect([...names]).toEqual(["qwen3-asr"]);
  });

  it("documents every secret the Worker reads as `wrangler secret put`, and sets none of them in [vars]", () => {
    const secrets = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "ADMIN_TOKEN"];
    for (const name of secrets) {
      expect(workerEnvNames).toContain(name);
      expect(deployDoc).toContain(`wrangler secret put ${name}`);
      expect(vars).not.toHaveProperty(name);
    }
    expect(vars).toMatchObject({ BLOB_STORE: "r2", R2_S3_ENDPOINT: "" });
  });

  it("keeps .dev.vars out of git, and its example names only variables the Worker reads", () => {
    const ignored = text(".gitignore").split("\n");
    expect(ignored).toEqual(expect.arrayContaining([".dev.vars", "!.dev.vars.example"]));
    const example = [...text(".dev.vars.example").matchAll(/^#?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(example.length).toBeGreaterThan(8);
    for (const name of example) expect(workerEnvNames, name).toContain(name);
  });
});
