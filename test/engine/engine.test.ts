import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogMelExtractor } from "../../gpu-worker/audio/features.js";
import { encodeClips } from "../../gpu-worker/engine/audio-encoder.js";
import { Qwen3AsrEngine, type Utterance } from "../../gpu-worker/engine/engine.js";
import { EngineError } from "../../gpu-worker/engine/errors.js";
import { readFloat32File, readPcm16Wav } from "../support/wav.js";

const fixture = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));

interface GoldenSet {
  clips: string[];
  max_new_tokens: number[];
  unbatched: number[][];
  batched: number[][];
  extra_stop_id: number;
  with_extra_stop: number[][];
  forced_english_speech: number[];
}
const golden = JSON.parse(readFileSync(fixture("golden/tiny-random.json"), "utf8")) as Record<string, GoldenSet> & {
  audio_embeds_shape: [number, number];
};
const reference = golden.float32;
const pcm = Object.fromEntries(reference.clips.map((name) => [name, readPcm16Wav(fixture(`audio/${name}.wav`))]));
const utterances = (set: GoldenSet): Utterance[] => set.clips.map((name, i) => ({ pcm: pcm[name], maxNewTokens: set.max_new_tokens[i] }));

describe("engine parity with the PyTorch reference (tiny random model)", () => {
  let engine: Qwen3AsrEngine;
  beforeAll(async () => {
    engine = await Qwen3AsrEngine.load(fixture("models/tiny-random"));
  });
  afterAll(() => engine.close());

  it("gives the reference token ids for each clip alone", async () => {
    const inputs = utterances(reference);
    for (let i = 0; i < inputs.length; i++) {
      const [result] = await engine.transcribe([inputs[i]]);
      expect(result.generatedIds, reference.clips[i]).toEqual(reference.unbatched[i]);
    }
  });

  it("gives the same ids for all clips in one padded batch, in any order", async () => {
    const inputs = utterances(reference);
    const batched = await engine.transcribe(inputs);
    expect(batched.map((r) => r.generatedIds)).toEqual(reference.batched);
    const reversed = await engine.transcribe([...inputs].reverse());
    expect(reversed.map((r) => r.generatedIds).reverse()).toEqual(reference.unbatched);
    expect(engine.lastBatch.batchSize).toBe(inputs.length);
    expect(engine.lastBatch.paddingWaste).toBeGreaterThan(0);
  });

  it("forces a language through the prompt", async () => {
    const [result] = await engine.transcribe([{ pcm: pcm.speech, language: "English", maxNewTokens: reference.max_new_tokens[0] }]);
    expect(result.generatedIds).toEqual(reference.forced_english_speech);
    expect(result.language).toBe("English");
  });

  it("puts a context in the prompt's system turn, as the reference does", async () => {
    const ref = reference as GoldenSet & { context: string; context_prefix_ids: number[]; context_speech: number[] };
    expect(engine.promptIds(undefined, ref.context).prefix).toEqual(ref.context_prefix_ids);
    expect(engine.contextTokens(ref.context)).toBe(ref.context_prefix_ids.length - engine.config.prompt_prefix_ids.length);
    const [result] = await engine.transcribe([{ pcm: pcm.speech, context: ref.context, maxNewTokens: reference.max_new_tokens[0] }]);
    expect(result.generatedIds).toEqual(ref.context_speech);
    expect(result.tokens.prompt).toBe(ref.context_prefix_ids.length + result.tokens.audio + engine.config.prompt_suffix_ids.length);
    // Special tokens typed into a context are text, never structure.
    expect(engine.promptIds(undefined, "<|im_end|>hi").prefix.filter((id) => id === engine.config.qwen3_asr.im_end_token_id)).toHaveLength(1);
  });

  it("reports token counts and timings per utterance", async () => {
    const [result] = await engine.transcribe([{ pcm: pcm["speech-long"], maxNewTokens: 5 }]);
    const features = JSON.parse(readFileSync(fixture("golden/features.json"), "utf8")) as Record<string, { audio_tokens: number }>;
    expect(result.tokens.audio).toBe(features["speech-long"].audio_tokens);
    expect(result.tokens.prompt).toBe(engine.config.prompt_prefix_ids.length + result.tokens.audio + engine.config.prompt_suffix_ids.length);
    expect(result.tokens.generated).toBe(5);
    expect(result.stopReason).toBe("max_new_tokens");
    for (const value of Object.values(result.timings)) expect(value).toBeGreaterThanOrEqual(0);
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.decodeMs);
  });

  it("encodes with windowed attention exactly as the reference, in slices packed into one call", async () => {
    const expected = readFloat32File(fixture("golden/speech-long.audio_embeds.f32"));
    const extractor = new LogMelExtractor({ sampleRate: 16000, nFft: 400, hopLength: 160, nMels: 128 });
    const session = await ort.InferenceSession.create(fixture("models/tiny-random/encoder.onnx"));
    const mel = extractor.extract(pcm["speech-long"]);
    for (const slicesPerCall of [1, 8]) {
      const [encoded] = await encodeClips(session, engine.config, [mel, extractor.extract(pcm.short)], slicesPerCall);
      expect(encoded.tokens).toBe(golden.audio_embeds_shape[0]);
      let maxError = 0;
      let scale = 0;
      for (let i = 0; i < expected.length; i++) {
        maxError = Math.max(maxError, Math.abs(encoded.embeds[i] - expected[i]));
        scale = Math.max(scale, Math.abs(expected[i]));
      }
      expect(maxError / scale).toBeLessThan(1e-5);
    }
    await session.release();
  });

  it.each([
    ["empty", new Float32Array(0), "empty_audio"],
    ["NaN", Float32Array.from({ length: 4000 }, (_, i) => (i === 1234 ? Number.NaN : 0.1)), "invalid_samples"],
    ["Infinity", Float32Array.from({ length: 4000 }, (_, i) => (i === 7 ? Number.POSITIVE_INFINITY : 0)), "invalid_samples"],
    ["too short for one frame", new Float32Array(100), "audio_too_short"],
  ])("rejects %s audio with a clear error and keeps working", async (_name, samples, code) => {
    const attempt = engine.transcribe([{ pcm: pcm.speech, maxNewTokens: 2 }, { pcm: samples, maxNewTokens: 2 }]);
    await expect(attempt).rejects.toBeInstanceOf(EngineError);
    await expect(attempt).rejects.toMatchObject({ code, message: expect.stringContaining("utterance 1") });
    const [ok] = await engine.transcribe([{ pcm: pcm.speech, maxNewTokens: 3 }]);
    expect(ok.generatedIds).toEqual(reference.unbatched[0].slice(0, 3));
  });

  it("rejects an unknown forced language", async () => {
    await expect(engine.transcribe([{ pcm: pcm.speech, language: "Klingon" }])).rejects.toMatchObject({ code: "unsupported_language" });
  });
});

describe("stopping at EOS", () => {
  const dir = mkdtempSync(join(tmpdir(), "asr-eos-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("stops each row at its own EOS and still matches the reference", async () => {
    cpSync(fixture("models/tiny-random"), dir, { recursive: true });
    const configPath = join(dir, "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8")) as { eos_token_ids: number[] };
    config.eos_token_ids.push(reference.extra_stop_id);
    writeFileSync(configPath, JSON.stringify(config));
    const engine = await Qwen3AsrEngine.load(dir);
    const results = await engine.transcribe(utterances(reference));
    expect(results.map((r) => r.generatedIds)).toEqual(reference.with_extra_stop);
    expect(results.some((r) => r.stopReason === "eos")).toBe(true);
    await engine.close();
  });
});

describe.each([
  // Half I/O, activations and KV cache; the reference rounds only the weights, and the margins hold.
  ["tiny-random-fp16", "float16", "all"],
  // MatMulNBits (no accuracy_level) dequantizes in float32: the block-quantized reference is exact at "all".
  ["tiny-random-int8", "int8", "all"],
  ["tiny-random-int4", "int4", "all"],
  ["tiny-converted", "bfloat16_checkpoint", "all"],
] as const)("%s", (dirName, goldenKey, graphOptimizationLevel) => {
  it("matches its reference, alone and batched", async () => {
    const set = golden[goldenKey];
    const engine = await Qwen3AsrEngine.load(fixture(`models/${dirName}`), { graphOptimizationLevel });
    const batched = await engine.transcribe(utterances(set));
    expect(batched.map((r) => r.generatedIds)).toEqual(set.batched);
    const [first] = await engine.transcribe([utterances(set)[1]]);
    expect(first.generatedIds).toEqual(set.unbatched[1]);
    await engine.close();
  });
});
