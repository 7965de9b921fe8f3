/**
 * The transcribe CLI as a user runs it: a real process (node + tsx, as `npm run transcribe` starts it) against
 * the whole pipeline on a real port, with the model this repository ships.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "cli/transcribe.ts");
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const SPEECH = join(ROOT, "test/fixtures/audio/speech.wav");
const SPOKEN = "Set a timer for five minutes.";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe("transcribe CLI against a running server", () => {
  let stack: Stack;
  /** The CLI's working directory: empty, so no ./.data/dev-api-key is found unless a test means it. */
  let cwd: string;

  beforeAll(async () => {
    stack = await startStack("postgres");
    cwd = await mkdtemp(join(tmpdir(), "cli-cwd-"));
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  /** Runs the CLI with only the environment given (plus PATH), never the test runner's PORT or ASR_* values. */
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(process.execPath, ["--import", TSX, CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 90_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  const jobCount = async (): Promise<number> => ((await (await stack.request("/v1/transcriptions?limit=100")).json()) as { data: unknown[] }).data.length;

  it("prints its help with the flags, the environment and the exit codes", async () => {
    for (const flag of ["--help", "-h"]) {
      const result = await cli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Usage: npm run transcribe -- FILE");
      for (const word of ["--api", "--key", "--format", "--language", "--wait", "ASR_API_URL", "ASR_API_KEY", "PORT", "Exit codes"]) {
        expect(result.stdout).toContain(word);
      }
      expect(result.stderr).toBe("");
    }
  }, 60_000);

  it("refuses bad options before uploading anything (exit 2)", async () => {
    const before = await jobCount();
    const env = { ASR_API_URL: stack.edge.url, ASR_API_KEY: stack.apiKey };
    const cases: [string[], RegExp][] = [
      [[SPEECH, "--format", "pdf"], /--format pdf is not one of txt, srt, vtt, json/],
      [[SPEECH, "--language", "klingon"], /--language klingon is not a supported language/],
      [[SPEECH, "--interval", "soon"], /--interval soon/],
      [[SPEECH, "--frobnicate"], /--frobnicate/],
      [[], /no audio file given/],
      [[join(cwd, "missing.wav")], /cannot read .*missing\.wav: ENOENT/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args, env);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain("--help");
    }
    expect(await jobCount()).toBe(before);
  }, 120_000);

  it("says where it looked for a key when there is none (exit 2)", async () => {
    const result = await cli([SPEECH], { ASR_API_URL: stack.edge.url });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no API key: pass --key KEY or set ASR_API_KEY/);
  }, 60_000);

  it("names the URL it could not reach and what to do (exit 4)", async () => {
    // Port 2: privileged, so no test or user process listens there, and not on fetch's list of blocked ports.
    const fromFlag = await cli([SPEECH, "--api", "http://127.0.0.1:2", "--key", stack.apiKey]);
    expect(fromFlag.code).toBe(4);
    expect(fromFlag.stderr).toContain("cannot reach the API at http://127.0.0.1:2 (from --api): ECONNREFUSED");
    expect(fromFlag.stderr).toContain("npm start");
    expect(fromFlag.stderr).not.toContain("fetch failed");
    const fromPort = await cli([SPEECH], { PORT: "2", ASR_API_KEY: stack.apiKey });
    expect(fromPort.code).toBe(4);
    expect(fromPort.stderr).toContain("http://127.0.0.1:2 (from PORT; set --api or ASR_API_URL for another server)");
  }, 60_000);

  it("reports the API's refusal with a hint (exit 3)", async () => {
    const result = await cli([SPEECH, "--api", stack.edge.url, "--key", "sk_live_wrongwrongwrongwrongwrongwrong"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/401 unauthorized/);
    expect(result.stderr).toContain("--key or ASR_API_KEY");
  }, 60_000);

  it("finds a local server from PORT and prints the job id without --wait", async () => {
    const result = await cli([SPEECH], { PORT: String(stack.edge.port), ASR_API_KEY: stack.apiKey });
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    expect(id).toMatch(/^tr_[0-9a-z]{24}$/);
    expect((await stack.request(`/v1/transcriptions/${id}`)).status).toBe(200);
  }, 60_000);

  it("waits for the job and prints the transcript as SRT (ASR_API_URL)", async () => {
    const result = await cli([SPEECH, "--format", "srt", "--interval", "0.1"], { ASR_API_URL: `${stack.edge.url}/`, ASR_API_KEY: stack.apiKey });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^1\n00:00:00,000 --> 00:00:0\d,\d{3}\n/);
    expect(result.stdout).toContain(SPOKEN);
    expect(result.stderr).toMatch(/\[#{30}\] 100% completed/);
  }, 90_000);
});
