import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// `yaml` is installed through @hono/zod-openapi → openapi3-ts; declare it as a devDependency if that ever changes.
import { parseAllDocuments } from "yaml";
import { parseServiceConfig } from "../../shared/config.js";
import { execForm, readDockerfile, repoRoot, stageEnv } from "./dockerfile.js";

// Manifests are free-form: read them loosely.
type Doc = Record<string, any>;

const k8sDir = join(repoRoot, "deploy", "k8s");
const files = readdirSync(k8sDir).filter((f) => f.endsWith(".yaml"));
const docsByFile = new Map<string, Doc[]>(
  files.map((f) => {
    const docs = parseAllDocuments(readFileSync(join(k8sDir, f), "utf8"));
    for (const d of docs) if (d.errors.length) throw new Error(`${f}: ${d.errors.map((e) => e.message).join("; ")}`);
    return [f, docs.map((d) => d.toJS() as Doc)];
  }),
);
const all = [...docsByFile.values()].flat();
const one = (kind: string, name?: string): Doc => {
  const found = all.filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0];
};

const dockerfile = readDockerfile();
const runtime = dockerfile.stages[dockerfile.stages.length - 1];
const config = parseServiceConfig({});

describe("deploy/k8s manifests", () => {
  const deployment = one("Deployment", "asr-worker");
  const pod = deployment.spec.template.spec;
  const worker = pod.containers.find((c: Doc) => c.name === "worker");
  const configMap = one("ConfigMap");
  const secret = one("Secret");

  it("parse as YAML, each document with apiVersion, kind and a name", () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const doc of all) {
      expect(doc.apiVersion).toBeTruthy();
      expect(doc.kind).toBeTruthy();
      if (doc.kind !== "Kustomization") expect(doc.metadata?.name).toBeTruthy();
    }
    const kustomization = one("Kustomization");
    for (const resource of kustomization.resources as string[]) expect(files).toContain(resource);
    expect(kustomization.resources).not.toContain("secret.example.yaml");
  });

  it("run the worker on one GPU, as the image's user, with a tagged image", () => {
    expect(worker.resources.limits["nvidia.com/gpu"]).toBe(1);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(c.image).toMatch(/:[\w][\w.-]*$/);
      expect(c.image).not.toMatch(/:latest$/);
    }
    const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1)!.args.split(":");
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(String(pod.securityContext.runAsUser)).toBe(user[0]);
  });

  it("give the worker longer than its graceful stop before SIGKILL", () => {
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(config.worker.shutdownGraceMs / 1000);
  });

  it("take env from the ConfigMap and the Secret, with what the worker needs", () => {
    const refs = worker.envFrom.map((e: Doc) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(refs).toEqual(expect.arrayContaining([configMap.metadata.name, secret.metadata.name]));
    const env = { ...configMap.data, ...secret.stringData };
    for (const key of ["DATABASE_URL", "SQS_QUEUE_URL", "AWS_REGION", "BLOB_STORE", "S3_BUCKET", "MODEL_DIR", "EXECUTION_PROVIDER", "GPU_MEMORY_BUDGET_BYTES", "WORKER_CONCURRENCY"]) {
      expect(env[key], key).toBeTruthy();
    }
    expect(configMap.data.EXECUTION_PROVIDER).toBe("cuda");
    expect(configMap.data.GPU_MEMORY_BUDGET_BYTES).toBe(stageEnv(runtime).GPU_MEMORY_BUDGET_BYTES);
    // The model volume is mounted where MODEL_DIR points, the image's default.
    expect(worker.volumeMounts.find((m: Doc) => m.name === "model")?.mountPath).toBe(configMap.data.MODEL_DIR);
    expect(configMap.data.MODEL_DIR).toBe(stageEnv(runtime).MODEL_DIR);
  });

  it("probe with the image's HEALTHCHECK command", () => {
    const health = execForm(runtime.instructions.filter((i) => i.keyword === "HEALTHCHECK").at(-1)!.args);
    expect(worker.livenessProbe.exec.command).toEqual(health);
    expect(worker.startupProbe.exec.command).toEqual(health);
    expect(worker.ports.map((p: Doc) => p.containerPort)).toContain(Number(configMap.data.WORKER_METRICS_PORT));
  });

  it("scale with KEDA on the SQS queue depth, authenticated by a TriggerAuthentication", () => {
    const scaled = one("ScaledObject");
    const auth = one("TriggerAuthentication");
    expect(scaled.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    expect(scaled.spec.minReplicaCount).toBe(0);
    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe("aws-sqs-queue");
    expect(trigger.authenticationRef.name).toBe(auth.metadata.name);
    expect(trigger.metadata.queueURL).toBe(configMap.data.SQS_QUEUE_URL);
    expect(trigger.metadata.awsRegion).toBe(configMap.data.AWS_REGION);
    // One pod's share of the queue is what one worker holds.
    expect(trigger.metadata.queueLength).toBe(configMap.data.WORKER_CONCURRENCY);
    expect(auth.spec.podIdentity?.provider ?? auth.spec.secretTargetRef).toBeTruthy();
  });

  it("migrate in an init container with the same image", () => {
    const migrate = pod.initContainers.find((c: Doc) => c.name === "migrate");
    expect(migrate.image).toBe(worker.image);
    expect(migrate.command.join(" ")).toContain("createDatabase");
    expect(migrate.envFrom.map((e: Doc) => e.secretRef?.name)).toContain(secret.metadata.name);
  });
});
