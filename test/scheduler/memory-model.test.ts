import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";
import { defaultCalibration } from "../../gpu-worker/scheduler/calibration.js";
import {
  GENERATED_KV_COPIES,
  KV_COPIES_ALIVE,
  MAX_NEW_TOKENS_HEADROOM,
  MAX_NEW_TOKENS_PER_SECOND,
  estimateBatchBytes,
  hardMaxNewTokensFor,
  kvBytesPerToken,
  largestEncoderCall,
  maxNewTokensFor,
  parameterCount,
  promptTokens,
  sequenceTokens,
  tensorBytes,
  weightBytes,
  type ItemShape,
} from "../../gpu-worker/scheduler/memory-model.js";

const load = (path: string): ModelConfig =>
  modelConfigSchema.parse(JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")));
const qwen17 = load("../fixtures/configs/qwen3-asr-1.7b.json");
const qwen06 = load("../fixtures/configs/qwen3-asr-0.6b.json");
const tiny = load("../fixtures/models/tiny-random/config.json");
const gpu = { weights: "bfloat16", io: "float16" } as const;
const thirtySeconds: ItemShape = { frames: 3000 };

describe("weights on the device", () => {
  it("counts Qwen3-ASR-1.7B from its dimensions", () => {
    // Encoder (d 1024, 24 layers, ffn 4096, 480 conv channels):
    //   per layer 4·(1024² + 1024) attn + 2·2·1024 LN + (1024·4096 + 4096) + (4096·1024 + 1024) = 12,596,224
    //   × 24 = 302,309,376; convs 4,800 + 2·2,074,080; conv_out 7680·1024 = 7,864,320;
    //   ln_post 2,048; proj1 1,049,600; proj2 2,099,200                          → 317,477,504
    // Decoder (hidden 2048, 28 layers, 16 q / 8 kv heads × 128, ffn 6144):
    //   per layer 2048·2048 + 2·2048·1024 + 2048·2048 + 2·128 + 2·2048 + 3·2048·6144 = 50,336,000
    //   × 28 = 1,409,408,000; final norm 2,048; lm_head 151,936·2048 = 311,164,928 → 1,720,574,976
    // On the device: 2,038,052,480 ≈ 2.04 B parameters; × 2 B (bf16) ≈ 4.08 GB = 3.80 GiB.
    // (The brief's "≈ 3.9 GB" is 4.5 % lower; the design note's "≈ 4.1 GB" agrees with this count.)
    const handWorkedParameters = 2_038_052_480;
    const handWorkedBytes = 4.08e9;
    expect(parameterCount(qwen17, "device")).toBe(handWorkedParameters);
    expect(parameterCount(qwen17, "host")).toBe(151_936 * 2048); // embed_tokens stays on the CPU
    const bytes = weightBytes(qwen17, "bfloat16");
    expect(Math.abs(bytes - handWorkedBytes) / handWorkedBytes).toBeLessThan(0.01);
    expect(Math.abs(bytes - 3.9e9) / 3.9e9).toBeLessThan(0.05);
  });

  it("counts the 0.6B decoder as the design note does (0.596 B with the tied embedding once)", () => {
    const decoderOnDevice = 28 * 15_730_944 + 1024 + 151_936 * 1024;
    expect(decoderOnDevice).toBe(596_049_920);
    expect(parameterCount(qwen06, "device")).toBeGreaterThan(decoderOnDevice + 0.17e9); // + encoder ≈ 0.19 B
    expect(parameterCount(qwen06, "device")).toBeLessThan(decoderOnDevice + 0.2e9);
  });

  it("stores bytes per weight by dtype, small tensors kept in float32 as the export does", () => {
    expect(tensorBytes([2048, 2048], "float32")).toBe(4 * 2048 * 2048);
    expect(tensorBytes([2048, 2048], "bfloat16")).toBe(2 * 2048 * 2048);
    expect(tensorBytes([2048, 2048], "float16")).toBe(2 * 2048 * 2048);
    expect(tensorBytes([2048, 2048], "int8")).toBe(2048 * 2048 + (4 * 2048 * 2048) / 32); // + a float32 scale per 32
    expect(tensorBytes([2048, 2048], "int4")).toBe((2048 * 2048) / 2 + (4 * 2048 * 2048) / 32);
    expect(tensorBytes([128], "int8")).toBe(4 * 128);
    const int8 = weightBytes(qwen17, "int8");
    expect(int8).toBeGreaterThan(parameterCount(qwen17, "device"));
    expect(int8).toBeLessThan(weightBytes(qwen17, "bfloat16") * 0.6);
    expect(weightBytes(tiny, "float32")).toBeLessThan(2 ** 20);
  });
});

describe("KV cache and sequence length", () => {
  it("costs 112 KiB per token for the 1.7B decoder with float16 I/O", () => {
    expect(kvBytesPerToken(qwen17, "float16")).toBe(28 * 2 * 8 * 128 * 2);
    expect(kvBytesPerToken(qwen17, "float16")).toBe(114_688);
    expect(kvBytesPerToken(qwen17, "float32")).toBe(229_376);
    expect(kvBytesPerToken(tiny, "float32")).toBe(2 * 2 * 2 * 8 * 4);
  });

  it("bounds generation from the duration", () => {
    expect(MAX_NEW_TOKENS_PER_SECOND).toBe(6);
    expect(MAX_NEW_TOKENS_HEADROOM).toBe(16);
    expect(maxNewTokensFor(30)).toBe(196);
    expect(maxNewTokensFor(0)).toBe(16);
  });

  it("gives a 30 s chunk 9 + 390 + 6 + 196 tokens", () => {
    expect(promptTokens(qwen17, thirtySeconds)).toBe(9 + 390 + 6);
    expect(sequenceTokens(qwen17, thirtySeconds)).toBe(601);
    // A forced language has a longer suffix and its own output rate: English 4.5 tokens/s → 135 + 16.
    expect(sequenceTokens(qwen17, { frames: 3000, forcedLanguage: "English" })).toBe(9 + 390 + 9 + 151);
    expect(sequenceTokens(qwen17, { frames: 3000, maxNewTokens: 50 })).toBe(455);
    expect(() => sequenceTokens(qwen17, { frames: 3000, forcedLanguage: "Klingon" })).toThrow(/Klingon/);
  });

  it("holds two KV copies of every row at the padded length", () => {
    const four = estimateBatchBytes(qwen17, gpu, [thirtySeconds, thirtySeconds, thirtySeconds, thirtySeconds]);
    expect(KV_COPIES_ALIVE).toBe(2);
    expect(four.kvCache).toBe(2 * 4 * 601 * 114_688);
    expect(four.shape.paddedSequenceTokens).toBe(601);
    const one = estimateBatchBytes(qwen17, gpu, [thirtySeconds], { kvCopiesAlive: 1 });
    expect(one.kvCache).toBe(601 * 114_688);
  });

  it("pads short prompts to the longest and drops rows that reach their bound", () => {
    const long = { frames: 3000, maxNewTokens: 100 };
    const short = { frames: 500, maxNewTokens: 200 };
    // Both rows hold 405 + 100 tokens until the long prompt's row stops; then one row runs to 405 + 200.
    const b = estimateBatchBytes(qwen17, gpu, [long, short]);
    expect(b.shape.paddedPromptTokens).toBe(405);
    expect(b.shape.paddedSequenceTokens).toBe(605);
    expect(b.kvCache).toBe(2 * Math.max(2 * 505, 1 * 605) * 114_688);
  });
});

describe("activations", () => {
  it("models one 30 s prefill from the hand-worked layer working set", () => {
    const b = estimateBatchBytes(qwen17, gpu, [thirtySeconds]);
    const S = 405;
    const inputs = S * 2048 * 4 + S * S * 4 + S * 8; // inputs_embeds, attn_bias, position_ids
    const scoresAndProbs = 2 * 16 * S * S * 4; // 20,995,200
    const mlp = 3 * S * 6144 * 4; // 29,859,840
    const hidden = S * (3 * 2048 + 4 * 16 * 128) * 4;
    expect(b.prefillActivations).toBe(inputs + scoresAndProbs + mlp + hidden);
    expect(b.prefillActivations).toBe(78_056_460);
    expect(b.logits).toBe(151_936 * 4);
  });

  it("bounds the largest encoder call by the biggest slices of the batch", () => {
    // 30 s = 3000 frames = three 800-frame slices (8 chunks, 104 tokens) and one of 600 frames (6 chunks, 78 tokens).
    expect(largestEncoderCall(qwen17, [3000], 8)).toEqual({ slices: 4, chunks: 30, tokens: 390 });
    expect(largestEncoderCall(qwen17, [3000, 3000, 3000], 8)).toEqual({ slices: 8, chunks: 64, tokens: 832 });
    expect(largestEncoderCall(qwen17, [3000, 250], 1)).toEqual({ slices: 1, chunks: 8, tokens: 104 });
    expect(largestEncoderCall(qwen17, [250, 610], 8)).toEqual({ slices: 2, chunks: 10, tokens: 33 + 80 }); // A(250) = 26 + 7, A(610) = 78 + 2
  });

  it("charges the first convolution's map twice (output and GELU) for a full 8-slice call", () => {
    const b = estimateBatchBytes(qwen17, gpu, [thirtySeconds, thirtySeconds, thirtySeconds], { encoderSlicesPerCall: 8 });
    const firstConvMap = 64 * 480 * 64 * 50 * 4; // 64 chunks × 480 channels × 64 mel × 50 frames × 4 B
    expect(b.encoderActivations).toBeGreaterThan(2 * firstConvMap);
    const oneSlice = estimateBatchBytes(qwen17, gpu, [thirtySeconds, thirtySeconds, thirtySeconds], { encoderSlicesPerCall: 1 });
    expect(oneSlice.encoderActivations).toBeLessThan(b.encoderActivations / 6);
  });
});

describe("estimateBatchBytes", () => {
  it("adds the encoder to the larger decoder phase: prefill (one cache copy at prompt length) or decode", () => {
    const b = estimateBatchBytes(qwen17, gpu, [thirtySeconds, { frames: 1234, forcedLanguage: "English" }]);
    const { weights, runtimeReserve, kvCache, encoderActivations, prefillActivations, logits, ioBuffers } = b;
    const promptCache = kvBytesPerToken(qwen17, "float16") * 2 * b.shape.paddedPromptTokens;
    const prefill = prefillActivations + promptCache;
    const decode = kvCache + ioBuffers;
    expect(b.total).toBe(weights + runtimeReserve + encoderActivations + logits + Math.max(prefill, decode));
    expect(b.peakPhase).toBe(prefill > decode ? "prefill" : "decode");
    // Long generation bounds make decode the peak; the sum of all terms would over-count.
    expect(b.total).toBeLessThan(weights + runtimeReserve + kvCache + encoderActivations + prefillActivations + logits + ioBuffers);
  });

  it("costs only weights and reserve for an empty batch", () => {
    const b = estimateBatchBytes(qwen17, gpu, []);
    expect(b.total).toBe(weightBytes(qwen17, "bfloat16") + defaultCalibration.runtimeReserveBytes);
  });

  it("applies the calibration's reserve and coefficients", () => {
    const calibration = {
      ...defaultCalibration,
      runtimeReserveBytes: 1000,
      coefficients: { ...defaultCalibration.coefficients, kvCache: 1.5, prefillActivations: 0.5 },
    };
    const plain = estimateBatchBytes(qwen17, gpu, [thirtySeconds]);
    const fitted = estimateBatchBytes(qwen17, gpu, [thirtySeconds], { calibration });
    expect(fitted.runtimeReserve).toBe(1000);
    expect(fitted.kvCache).toBe(Math.ceil(1.5 * plain.kvCache));
    expect(fitted.prefillActivations).toBe(Math.ceil(0.5 * plain.prefillActivations));
    expect(fitted.weights).toBe(plain.weights);
  });

  it("runs on the tiny CPU model's float32 config", () => {
    const b = estimateBatchBytes(tiny, { weights: "float32", io: "float32" }, [{ frames: 1000 }]);
    expect(b.total).toBeGreaterThan(b.weights);
    expect(b.kvCache).toBe(2 * sequenceTokens(tiny, { frames: 1000 }) * 256);
  });

  const item = fc.record({
    frames: fc.integer({ min: 0, max: 120_000 }),
    maxNewTokens: fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
    forcedLanguage: fc.constantFrom(undefined, "English"),
  });

  it("never shrinks when an item joins (the planner relies on it)", () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), item, fc.integer({ min: 1, max: 8 }), (batch, extra, k) => {
        const options = { encoderSlicesPerCall: k };
        const before = estimateBatchBytes(qwen17, gpu, batch, options);
        const after = estimateBatchBytes(qwen17, gpu, [...batch, extra], options);
        for (const term of ["kvCache", "encoderActivations", "prefillActivations", "logits", "ioBuffers", "total"] as const) {
          expect(after[term]).toBeGreaterThanOrEqual(before[term]);
        }
      }),
    );
  });

  it("never shrinks when an item gets longer or packs more slices per call", () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 8 }), fc.nat(6000), fc.integer({ min: 1, max: 7 }), (batch, more, k) => {
        const longer = batch.map((b, i) => (i === 0 ? { ...b, frames: b.frames + more } : b));
        const base = estimateBatchBytes(qwen17, gpu, batch, { encoderSlicesPerCall: k }).total;
        expect(estimateBatchBytes(qwen17, gpu, longer, { encoderSlicesPerCall: k }).total).toBeGreaterThanOrEqual(base);
        expect(estimateBatchBytes(qwen17, gpu, batch, { encoderSlicesPerCall: k + 1 }).total).toBeGreaterThanOrEqual(base);
      }),
    );
  });
});

describe("context prompts", () => {
  const config = modelConfigSchema.parse(JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")));
  it("reserve the context's tokens in the prompt and the cache", () => {
    const plain = estimateBatchBytes(config, { weights: "bfloat16", io: "float16" }, [{ frames: 3000 }]);
    const withContext = estimateBatchBytes(config, { weights: "bfloat16", io: "float16" }, [{ frames: 3000, contextTokens: 40 }]);
    expect(withContext.shape.paddedPromptTokens).toBe(plain.shape.paddedPromptTokens + 40);
    expect(withContext.kvCache).toBeGreaterThan(plain.kvCache);
  });
});

describe("output reservation and the graph loop's cache", () => {
  const config = modelConfigSchema.parse(JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")));
  const dtypes = { weights: config.qwen3_asr.weights_dtype, io: config.qwen3_asr.io_dtype };

  it("reserves by language and lets a chunk be continued far beyond it", () => {
    expect(maxNewTokensFor(30, "English")).toBe(151);
    expect(maxNewTokensFor(30, "Hindi")).toBe(496);
    expect(maxNewTokensFor(30)).toBe(196);
    expect(hardMaxNewTokensFor(30)).toBeGreaterThan(maxNewTokensFor(30, "Hindi"));
  });

  it("counts the prompt cache once and the generated cache GENERATED_KV_COPIES times, for every row to the end", () => {
    const items = [{ frames: 3000, maxNewTokens: 100 }, { frames: 3000, maxNewTokens: 20 }];
    const graph = estimateBatchBytes(config, dtypes, items, { decoding: "graph" });
    const prompt = promptTokens(config, items[0]);
    expect(graph.kvCache).toBe(kvBytesPerToken(config, dtypes.io) * (2 * prompt + GENERATED_KV_COPIES * 2 * 100));
    const host = estimateBatchBytes(config, dtypes, items, { decoding: "host" });
    // The host loop drops rows as they end: the peak is the larger of one row at 100 and two rows at 20 tokens.
    expect(host.kvCache).toBe(kvBytesPerToken(config, dtypes.io) * KV_COPIES_ALIVE * Math.max(prompt + 100, 2 * (prompt + 20)));
  });
});
