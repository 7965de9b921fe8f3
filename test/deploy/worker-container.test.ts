import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, realpath, rm, symlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { startEdgeServer, type EdgeServer } from "../../edge/node.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { S3BlobStore } from "../../shared/adapters/s3-blob-store.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { parseServiceConfig } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type TestDatabase } from "../support/database.js";
import { contextCopies, dockerignore, execForm, readDockerfile, repoRoot, stageEnv } from "./dockerfile.js";

/**
 * The container without Docker: the files the Dockerfile copies (as .dockerignore lets them into the context)
 * laid out like /app, the image's ENV, and its ENTRYPOINT + CMD run as a child process — on the CPU, against
 * a local stack wired the way production is (DATABASE_URL, SQS_QUEUE_URL + SQS_ENDPOINT, BLOB_STORE=s3 on the
 * emulator's S3 API). The migration init container's command from deploy/k8s runs first.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID ??= "local";
process.env.AWS_SECRET_ACCESS_KEY ??= "local";

const MODEL = join(repoRoot, "test/fixtures/models/tiny-random");
const speech = readFileSync(join(repoRoot, "test/fixtures/audio/speech.wav"));
const REGION = "us-east-1";
const BUCKET = "asr-audio";
const graceMs = parseServiceConfig({}).worker.shutdownGraceMs;

const dockerfile = readDockerfile();
const runtime = dockerfile.stages[dockerfile.stages.length - 1];
const lastExec = (keyword: string) => execForm(runtime.instructions.filter((i) => i.keyword === keyword).at(-1)!.args);

/** Copies the runtime stage's context COPYs into `app`; node_modules stands in for the deps stage's. */
async function imageLikeApp(root: string): Promise<string> {
  const app = join(root, "app");
  await mkdir(app);
  const ignored = dockerignore(readFileSync(join(repoRoot, ".dockerignore"), "utf8"));
  for (const { sources, dest } of contextCopies(runtime)) {
    for (const source of sources) {
      const target = dest.endsWith("/") ? join(app, dest, source) : join(app, dest);
      await cp(join(repoRoot, source), target, {
        recursive: true,
        filter: (from) => !ignored(relative(repoRoot, from) || "."),
      });
    }
  }
  await symlink(join(repoRoot, "node_modules"), join(app, "node_modules"), "dir");
  return app;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** `node` in the image is this Node; tini is used too when this machine has it. */
function commandLine(): string[] {
  const entrypoint = lastExec("ENTRYPOINT");
  const cmd = lastExec("CMD").map((w, i) => (i === 0 && w === "node" ? process.execPath : w));
  return existsSync(entrypoint[0]) ? [...entrypoint, ...cmd] : cmd;
}

interface Worker {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startContainer(app: string, env: Record<string, string>): Worker {
  const [file, ...args] = commandLine();
  const child = spawn(file, args, { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line (a warning from a library)
        }
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, logs, output, exited };
}

async function until<T>(what: string, worker: Worker, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (worker.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${what}: not seen (exit ${worker.child.exitCode}); worker output:\n${worker.output.slice(-40).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the worker image's entry command, on the CPU without Docker", () => {
  let root: string;
  let app: string;
  let database: TestDatabase;
  let sqs: LocalSqs;
  let edge: EdgeServer;
  let apiKey: string;
  let worker: Worker;
  let metricsPort: number;

  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "worker-image-")));
    app = await imageLikeApp(root);
    database = await testDatabase("postgres", { migrate: false });
    sqs = await startLocalSqs({ visibilityTimeoutSeconds: 60 });
    const s3 = new S3Client({ region: REGION, endpoint: sqs.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
    metricsPort = await freePort();
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) worker.child.kill("SIGKILL");
    await edge?.close();
    await sqs?.stop();
    await database?.cleanup();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("lays out the image's files as the Dockerfile copies them", async () => {
    expect(existsSync(join(app, "gpu-worker/main.ts"))).toBe(true);
    expect(existsSync(join(app, "gpu-worker/healthcheck.mjs"))).toBe(true);
    expect(existsSync(join(app, "db/migrations"))).toBe(true);
    expect(existsSync(join(app, "test"))).toBe(false);
    expect((await readdir(app)).sort()).toEqual(["db", "gpu-worker", "node_modules", "package.json", "shared", "tsconfig.json"]);
  });

  it("migrates with the init container's command from deploy/k8s", () => {
    const manifest = parseAllDocuments(readFileSync(join(repoRoot, "deploy/k8s/worker.yaml"), "utf8")).map((d) => d.toJS());
    const deployment = manifest.find((d) => d.kind === "Deployment");
    const [file, ...args] = deployment.spec.template.spec.initContainers.find((c: { name: string }) => c.name === "migrate").command as string[];
    const result = spawnSync(file === "node" ? process.execPath : file, args, {
      cwd: app,
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: database.url },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(0);
  }, 90_000);

  it("starts with the image's environment and logs 'worker started'", async () => {
    const config = parseServiceConfig({ server: { port: 0 }, network: { allowPrivateTargets: ["127.0.0.1"] } });
    const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint, region: REGION });
    const blobs = new S3BlobStore({ bucket: BUCKET, endpoint: sqs.endpoint, region: REGION });
    apiKey = (await createApiKey(database.db, { name: "image test" })).key;
    edge = await startEdgeServer({ config, database, blobs, queue, logger: silentLogger });

    const imageEnv = stageEnv(runtime);
    // jemalloc is preloaded as in the image when this machine has it (it is a Debian/Ubuntu path).
    if (!existsSync(imageEnv.LD_PRELOAD ?? "")) delete imageEnv.LD_PRELOAD;
    expect(imageEnv.EXECUTION_PROVIDER).toBe("cuda");
    worker = startContainer(app, {
      PATH: process.env.PATH ?? "",
      HOME: root,
      ...imageEnv,
      EXECUTION_PROVIDER: "cpu", // the one difference from a GPU deployment
      MODEL_DIR: MODEL,
      WORKER_METRICS_PORT: String(metricsPort),
      DATABASE_URL: database.url,
      SQS_QUEUE_URL: sqs.queueUrl,
      SQS_ENDPOINT: sqs.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      BLOB_STORE: "s3",
      S3_BUCKET: BUCKET,
      S3_ENDPOINT: sqs.endpoint,
      S3_REGION: REGION,
    });
    const started = await until("worker started", worker, () => worker.logs.find((l) => l.msg === "worker started"), 90_000);
    expect(started).toMatchObject({ provider: "cpu", budgetBytes: Number(imageEnv.GPU_MEMORY_BUDGET_BYTES) });
  }, 120_000);

  it("passes its HEALTHCHECK command while running", () => {
    const [file, ...args] = execForm(runtime.instructions.filter((i) => i.keyword === "HEALTHCHECK").at(-1)!.args);
    const result = spawnSync(file === "node" ? process.execPath : file, args, {
      cwd: app,
      env: { PATH: process.env.PATH ?? "", WORKER_METRICS_PORT: String(metricsPort) },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("answered 200"); // the worker's own metrics server, not the fallback
  });

  it("transcribes a job the edge queued", async () => {
    const form = new FormData();
    form.append("file", new Blob([speech], { type: "audio/wav" }), "speech.wav");
    const created = await fetch(`${edge.url}/v1/transcriptions`, { method: "POST", body: form, headers: { Authorization: `Bearer ${apiKey}` } });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const job = await until(
      "job completed",
      worker,
      async () => {
        const res = await fetch(`${edge.url}/v1/transcriptions/${id}`, { headers: { Authorization: `Bearer ${apiKey}` } });
        const body = (await res.json()) as { status: string; text?: string };
        return ["completed", "failed"].includes(body.status) ? body : undefined;
      },
      60_000,
    );
    expect(job.status).toBe("completed");
    expect(typeof job.text).toBe("string");
  }, 90_000);

  it("stops cleanly on SIGTERM within the grace period", async () => {
    const sent = Date.now();
    worker.child.kill("SIGTERM");
    const { code, signal } = await Promise.race([
      worker.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no exit within the grace period")), graceMs + 5_000)),
    ]);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(graceMs);
    expect(worker.logs.find((l) => l.msg === "stopping")).toMatchObject({ signal: "SIGTERM" });
    expect(worker.logs.some((l) => l.level === "error")).toBe(false);
    if (process.env.SHOW_WORKER_OUTPUT) console.log(worker.output.join("\n"));
  }, graceMs + 10_000);
});
