import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { audioTokenCount, frameCount, modelConfigSchema } from "../../shared/model-config.js";

const load = (path: string): unknown => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));

describe("model config.json schema", () => {
  it.each(["qwen3-asr-0.6b", "qwen3-asr-1.7b"])("accepts the %s dimensions", (name) => {
    const config = modelConfigSchema.parse(load(`../fixtures/configs/${name}.json`));
    expect(config.qwen3_asr.window_tokens).toBe(104);
    expect(config.qwen3_asr.tokens_per_chunk).toBe(13);
  });

  it("accepts the shipped tiny model", () => {
    const config = modelConfigSchema.parse(load("../fixtures/models/tiny-random/config.json"));
    expect(config.qwen3_asr.num_hidden_layers).toBe(2);
  });

  it.each([
    ["tiny-random", "float32", "float32"],
    ["tiny-random-fp16", "float16", "float16"],
    ["tiny-random-int8", "int8", "float32"],
    ["tiny-random-int4", "int4", "float32"],
  ])("accepts the %s precision fields (%s weights, %s I/O and KV)", (dir, weights, io) => {
    const q = modelConfigSchema.parse(load(`../fixtures/models/${dir}/config.json`)).qwen3_asr;
    expect([q.weights_dtype, q.io_dtype, q.kv_dtype]).toEqual([weights, io, io]);
    expect(q.weight_bytes?.decoder).toBeGreaterThan(0);
  });

  it("rejects an unknown weights dtype", () => {
    const raw = load("../fixtures/models/tiny-random/config.json") as { qwen3_asr: { weights_dtype: string } };
    raw.qwen3_asr.weights_dtype = "int3";
    expect(modelConfigSchema.safeParse(raw).success).toBe(false);
  });

  it("names the inconsistent field when dimensions disagree", () => {
    const raw = load("../fixtures/configs/qwen3-asr-1.7b.json") as { qwen3_asr: { audio_encoder: { output_dim: number } } };
    raw.qwen3_asr.audio_encoder.output_dim = 1024;
    const result = modelConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/output_dim must equal the decoder hidden_size/);
  });

  it("rejects token ids outside the vocabulary", () => {
    const raw = load("../fixtures/models/tiny-random/config.json") as { eos_token_ids: number[] };
    raw.eos_token_ids = [100000];
    expect(modelConfigSchema.safeParse(raw).error?.issues[0]?.message).toMatch(/eos_token_ids has an id >= vocab_size/);
  });
});

describe("audio token count", () => {
  const config = modelConfigSchema.parse(load("../fixtures/configs/qwen3-asr-1.7b.json"));
  it("follows the official formula", () => {
    expect(audioTokenCount(config, 3000)).toBe(390); // 30 s
    expect(audioTokenCount(config, 100)).toBe(13);
    expect(audioTokenCount(config, 99)).toBe(13);
    expect(audioTokenCount(config, 1)).toBe(1);
    expect(audioTokenCount(config, 108)).toBe(14);
    expect(audioTokenCount(config, 109)).toBe(15);
    expect(audioTokenCount(config, 0)).toBe(0);
  });

  it("matches the Python reference on every golden clip", () => {
    const golden = load("../fixtures/golden/features.json") as Record<string, { samples: number; frames: number; audio_tokens: number }>;
    for (const clip of Object.values(golden)) {
      expect(frameCount(config, clip.samples)).toBe(clip.frames);
      expect(audioTokenCount(config, clip.frames)).toBe(clip.audio_tokens);
    }
  });
});
