/**
 * `npm run start:workers` as a user runs it: the launcher in its own process, on the embedded PGlite (reached by
 * the Worker through Hyperdrive's local connection string), PORT=0 and BOOTSTRAP_API_KEY. The README's first curl
 * example, made with fetch, completes; SIGTERM stops the launcher and its GPU worker.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabase } from "../support/database.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const API_KEY = "sk_live_startworkerstest_000000000000";
const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));

describe("npm run start:workers", () => {
  let launcher: ChildProcess;
  let exited: Promise<unknown>;
  /** The GPU worker writes to the same pipe: it closes once the launcher and the worker have both exited. */
  let outputClosed: Promise<unknown>;
  let api: string;
  let dataDir: string;
  const output: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "start-workers-"));
    // ./.data/pglite as a first `npm start` leaves it, copied from the suite's migrated template (initdb takes long).
    const pglite = await testDatabase("pglite");
    await pglite.close();
    cpSync(pglite.dataDir!, join(dataDir, "pglite"), { recursive: true });
    await pglite.cleanup();
    launcher = spawn(process.execPath, ["--import", "tsx", join(ROOT, "dev/start-workers.ts")], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", BOOTSTRAP_API_KEY: API_KEY, DATA_DIR: dataDir, DATABASE_URL: "", WORKER_METRICS_PORT: "off" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = once(launcher, "exit");
    outputClosed = once(launcher.stdout!, "close");
    launcher.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    // The banner names the URL once everything is up.
    api = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: launcher.stdout! });
      lines.on("line", (line) => {
        output.push(line);
        const url = /service is up on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
        if (url) resolve(url);
      });
      void exited.then(() => reject(new Error(`the launcher exited before it was up:\n${output.join("\n")}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (launcher?.exitCode === null) {
      launcher.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("transcribes the README's upload with the key it was given, then stops on SIGTERM", async () => {
    const auth = { Authorization: `Bearer ${API_KEY}` };
    const form = new FormData();
    form.append("file", new Blob([speech]), "speech.wav");
    form.append("language", "en");
    const created = await fetch(`${api}/v1/transcriptions`, { method: "POST", body: form, headers: auth });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    const deadline = Date.now() + 60_000;
    let job: { status: string; text: string | null };
    for (;;) {
      job = (await (await fetch(`${api}/v1/transcriptions/${id}`, { headers: auth })).json()) as typeof job;
      if (job.status === "completed" || job.status === "failed" || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(job).toMatchObject({ status: "completed", text: "Set a timer for five minutes." });

    launcher.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    await outputClosed;
  }, 90_000);
});
