import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main, progressBar } from "../../cli/model-pull.js";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { HubError } from "../../gpu-worker/model-hub/download.js";
import { planLayout } from "../../gpu-worker/model-hub/layout.js";
import { pullModel } from "../../gpu-worker/model-hub/pull.js";
import { startMockHub, type MockHub } from "../support/mock-hub.js";
import { readPcm16Wav } from "../support/wav.js";

const fixture = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));
const golden = JSON.parse(readFileSync(fixture("golden/tiny-random.json"), "utf8")).float32 as {
  clips: string[];
  max_new_tokens: number[];
  unbatched: number[][];
  batched: number[][];
};
const tinyConfig = JSON.parse(readFileSync(fixture("models/tiny-random/config.json"), "utf8")) as object;

/** The engine on a pulled directory must give tiny-random's golden ids, alone and batched. */
async function expectGoldens(dir: string): Promise<void> {
  const engine = await Qwen3AsrEngine.load(dir);
  try {
    const utterances = golden.clips.map((name, i) => ({ pcm: readPcm16Wav(fixture(`audio/${name}.wav`)), maxNewTokens: golden.max_new_tokens[i] }));
    for (let i = 0; i < utterances.length; i++) {
      const [alone] = await engine.transcribe([utterances[i]]);
      expect(alone.generatedIds, golden.clips[i]).toEqual(golden.unbatched[i]);
    }
    const batched = await engine.transcribe(utterances);
    expect(batched.map((r) => r.generatedIds)).toEqual(golden.batched);
  } finally {
    await engine.close();
  }
}

describe("npm run model:pull against a mock Hub", () => {
  let hub: MockHub;
  let work: string;
  const repos = { "tiny/speech-llm": fixture("hub/speech-llm"), "tiny/contract": fixture("models/tiny-random") };
  beforeAll(async () => {
    hub = await startMockHub({ repos });
  });
  afterAll(() => hub?.close());
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "model-pull-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  it("pulls the onnx-asr speech-llm layout, adapts it, and the engine reproduces the tiny model's goldens", async () => {
    const dir = join(work, "speech-llm");
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const code = await main(["tiny/speech-llm", "--dir", dir, "--base-config", fixture("models/tiny-random/config.json")], { HF_ENDPOINT: hub.url });
    expect(code).toBe(0);
    expect(log.mock.calls.flat().join("\n")).toContain(`MODEL_DIR=${dir} npm start`);
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(config.qwen3_asr).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, num_key_value_heads: 2, head_dim: 8, vocab_size: 768 });
    expect(JSON.parse(readFileSync(join(dir, "source.json"), "utf8"))).toMatchObject({ repo: "tiny/speech-llm", layout: "speech-llm" });
    // The graphs are linked from the download, not stored twice.
    expect(statSync(join(dir, "decoder.onnx")).ino).toBe(statSync(join(dir, ".hub", "onnx", "decoder.onnx")).ino);
    await expectGoldens(dir);
  });

  it("builds the forced-language suffixes when the repository's config.json has none", async () => {
    const copy = join(work, "no-suffixes-repo");
    cpSync(fixture("hub/speech-llm"), copy, { recursive: true });
    const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    delete config.language_suffix_ids;
    writeFileSync(join(copy, "config.json"), JSON.stringify(config));
    const own = await startMockHub({ repos: { "tiny/no-suffixes": copy } });
    try {
      const dir = join(work, "no-suffixes");
      await pullModel({ source: { repo: "tiny/no-suffixes", hubUrl: own.url }, dir, baseConfig: tinyConfig });
      const adapted = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      // The same ids the exporter wrote for tiny-random, for all 30 languages.
      expect(adapted.language_suffix_ids).toEqual((tinyConfig as { language_suffix_ids: unknown }).language_suffix_ids);
    } finally {
      await own.close();
    }
  });

  it("pulls a repository already in our contract unchanged", async () => {
    const dir = join(work, "contract");
    const result = await pullModel({ source: { repo: "tiny/contract", hubUrl: hub.url }, dir });
    expect(result.plan.layout).toBe("contract");
    expect(readFileSync(join(dir, "config.json"), "utf8")).toBe(readFileSync(fixture("models/tiny-random/config.json"), "utf8"));
    await expectGoldens(dir);
  });

  it("does not fetch again what is already there and verified", async () => {
    const dir = join(work, "again");
    await pullModel({ source: { repo: "tiny/contract", hubUrl: hub.url }, dir });
    const before = hub.requests.length;
    const second = await pullModel({ source: { repo: "tiny/contract", hubUrl: hub.url }, dir });
    expect(second.downloaded).toEqual([]);
    expect(second.present).toHaveLength(5);
    expect(hub.requests.slice(before).filter((r) => r.path.includes("/resolve/"))).toEqual([]);
  });

  it("resumes an interrupted download where it stopped", async () => {
    const cutHub = await startMockHub({ repos, cutAfter: { "onnx/decoder.onnx": 100_000 } });
    try {
      const dir = join(work, "resume");
      const source = { repo: "tiny/speech-llm", hubUrl: cutHub.url };
      const first = pullModel({ source, dir, baseConfig: tinyConfig });
      await expect(first).rejects.toMatchObject({ code: "download_failed" });
      const partial = join(dir, ".hub", "onnx", "decoder.onnx.incomplete");
      // What arrived before the connection dropped (at most the 100,000 bytes sent) is kept.
      const kept = statSync(partial).size;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(100_000);

      const second = await pullModel({ source, dir, baseConfig: tinyConfig });
      // Files before the cut are kept; the cut one continues; those after it come now.
      expect(second.present).toEqual(["config.json", "merges.txt"]);
      expect(second.downloaded[0]).toBe("onnx/decoder.onnx");
      const ranges = cutHub.requests.filter((r) => r.path.endsWith("/onnx/decoder.onnx") && r.range !== "bytes=0-0").map((r) => r.range);
      expect(ranges).toEqual([undefined, `bytes=${kept}-242570`]); // the whole file, then the rest only
      expect(existsSync(partial)).toBe(false);
      await expectGoldens(dir);
    } finally {
      await cutHub.close();
    }
  });

  it("refuses a file whose sha256 is not the one the Hub lists, and keeps nothing of it", async () => {
    const badHub = await startMockHub({ repos, corruptSha: ["onnx/encoder.onnx"] });
    try {
      const dir = join(work, "corrupt");
      const pull = pullModel({ source: { repo: "tiny/speech-llm", hubUrl: badHub.url }, dir, baseConfig: tinyConfig });
      await expect(pull).rejects.toMatchObject({ code: "checksum_mismatch", message: expect.stringContaining("onnx/encoder.onnx: sha256 is") });
      expect(existsSync(join(dir, ".hub", "onnx", "encoder.onnx"))).toBe(false);
      expect(existsSync(join(dir, ".hub", "onnx", "encoder.onnx.incomplete"))).toBe(false);
      expect(existsSync(join(dir, "config.json"))).toBe(false);
    } finally {
      await badHub.close();
    }
  });

  it("sends HF_TOKEN, and says a token may be needed when the repository is not visible", async () => {
    const privateHub = await startMockHub({ repos, token: "hf_secret" });
    try {
      const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
      vi.spyOn(console, "log").mockImplementation(() => undefined);
      expect(await main(["tiny/contract", "--dir", join(work, "private")], { HF_ENDPOINT: privateHub.url })).toBe(1);
      expect(errors.mock.calls.flat().join("\n")).toMatch(/repo_not_found.*HF_TOKEN/s);
      expect(await main(["tiny/contract", "--dir", join(work, "private")], { HF_ENDPOINT: privateHub.url, HF_TOKEN: "hf_secret" })).toBe(0);
      expect(privateHub.requests.at(-1)?.auth).toBe("Bearer hf_secret");
    } finally {
      await privateHub.close();
    }
  });
});

describe("model:pull without a network", () => {
  afterEach(() => vi.restoreAllMocks());

  it("fails with a clear message when nothing listens", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    expect(await main(["a/b", "--dir", join(tmpdir(), "never")], { HF_ENDPOINT: `http://127.0.0.1:${port}` })).toBe(1);
    expect(errors.mock.calls.flat().join("\n")).toMatch(/hub_unreachable.*cannot reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/s);
  });

  it("gives up on a Hub that accepts connections but never answers", async () => {
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as { port: number }).port;
      const pull = pullModel({ source: { repo: "a/b", hubUrl: `http://127.0.0.1:${port}`, connectTimeoutMs: 200 }, dir: join(tmpdir(), "never") });
      await expect(pull).rejects.toBeInstanceOf(HubError);
      await expect(pull).rejects.toMatchObject({ code: "hub_unreachable", message: expect.stringContaining("no answer within 200 ms") });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe("layout planning", () => {
  it("picks the plain or the quantized graphs of a speech-llm repo with their external weights", () => {
    const paths = [
      "config.json", "vocab.json", "README.md",
      "onnx/encoder.onnx", "onnx/encoder.int8.onnx", "onnx/embed_tokens.onnx",
      "onnx/decoder.onnx", "onnx/decoder.onnx.data", "onnx/decoder_int8.onnx", "onnx/decoder_int8.onnx.data",
    ];
    expect(planLayout(paths)).toEqual({
      layout: "speech-llm",
      graphs: { encoder: "onnx/encoder.onnx", embedTokens: "onnx/embed_tokens.onnx", decoder: "onnx/decoder.onnx" },
      files: ["config.json", "onnx/decoder.onnx", "onnx/decoder.onnx.data", "onnx/embed_tokens.onnx", "onnx/encoder.onnx", "vocab.json"],
    });
    expect(planLayout(paths, "int8").graphs).toEqual({ encoder: "onnx/encoder.int8.onnx", embedTokens: "onnx/embed_tokens.onnx", decoder: "onnx/decoder_int8.onnx" });
  });

  it("names the split-decoder layout it cannot run, and what is missing otherwise", () => {
    expect(() => planLayout(["config.json", "encoder.onnx", "decoder_init.onnx", "decoder_step.onnx", "embed_tokens.bin"])).toThrow(/split-decoder layout.*andrewleech/);
    expect(() => planLayout(["config.json", "model.onnx"])).toThrow(/no encoder, embed_tokens and decoder graphs found; the repository has model\.onnx/);
    expect(() => planLayout(["encoder.onnx", "embed_tokens.onnx", "decoder.onnx", "vocab.json"])).toThrow(/no config\.json/);
  });
});


describe("progress bar", () => {
  it("redraws one line on a terminal and ends it when every byte is in", () => {
    const out: string[] = [];
    const bar = progressBar(2 * 2 ** 20, { isTTY: true, write: (s: string) => out.push(s) > 0 });
    bar({ path: "a.onnx", bytes: 2 ** 20, size: 2 ** 20, resumedFrom: 0 });
    bar({ path: "b.onnx", bytes: 2 ** 20, size: 2 ** 20, resumedFrom: 2 ** 19 });
    expect(out[0]).toMatch(/^\r\[#{15}\.{15}\]  50 % 1\.0 MiB \/ 2\.0 MiB .* a\.onnx/);
    expect(out[1]).toMatch(/^\r\[#{30}\] 100 % 2\.0 MiB \/ 2\.0 MiB/);
    expect(out.at(-1)).toBe("\n");
  });

  it("writes a line per finished file when the output is not a terminal, saying where it resumed", () => {
    const out: string[] = [];
    const bar = progressBar(2 ** 20, { isTTY: false, write: (s: string) => out.push(s) > 0 });
    bar({ path: "d.onnx", bytes: 2 ** 19, size: 2 ** 20, resumedFrom: 2 ** 18 });
    bar({ path: "d.onnx", bytes: 2 ** 20, size: 2 ** 20, resumedFrom: 2 ** 18 });
    expect(out).toEqual(["d.onnx: 1.0 MiB (resumed at 0.3 MiB)\n"]);
  });
});
