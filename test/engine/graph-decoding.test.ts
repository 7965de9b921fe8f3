import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Qwen3AsrEngine, type Transcription, type Utterance } from "../../gpu-worker/engine/engine.js";
import { readPcm16Wav } from "../support/wav.js";

const fixture = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));
const shipped = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const clips = ["speech", "speech-long", "short", "sine"].map((name) => readPcm16Wav(fixture(`audio/${name}.wav`)));

function expectSameDecoding(graph: Transcription[], host: Transcription[]): void {
  expect(graph.map((r) => r.generatedIds)).toEqual(host.map((r) => r.generatedIds));
  expect(graph.map((r) => r.stopReason)).toEqual(host.map((r) => r.stopReason));
  graph.forEach((row, i) => {
    // The no-speech probability comes from the watched tokens' log-probabilities the graph reports per step.
    expect(Math.abs(row.noSpeechProb - host[i].noSpeechProb)).toBeLessThan(1e-4);
    expect(Math.abs(row.avgLogprob - host[i].avgLogprob)).toBeLessThan(1e-3);
    expect(row.tokenLogprobs).toHaveLength(row.generatedIds.length);
    row.tokenLogprobs.forEach((lp, t) => {
      expect(lp).toBeLessThanOrEqual(0);
      expect(Math.abs(lp - host[i].tokenLogprobs[t])).toBeLessThan(1e-3);
    });
  });
}

// generate.onnx (the greedy loop inside onnxruntime) against decoder.onnx driven step by step from JavaScript.
describe.each([
  ["tiny-random", fixture("models/tiny-random"), "all"],
  ["tiny-random-fp16", fixture("models/tiny-random-fp16"), "all"],
  ["tiny-random-int8", fixture("models/tiny-random-int8"), "all"],
  ["tiny-random-int4 (embedding table inside the graph)", fixture("models/tiny-random-int4"), "all"],
  ["tiny-converted", fixture("models/tiny-converted"), "all"],
  ["shipped model", shipped, "all"],
  ["shipped model, int4", `${shipped}/precisions/int4`, "all"],
] as const)("%s: the loop inside the graph decodes as the JavaScript loop does", (_name, dir, graphOptimizationLevel) => {
  let graph: Qwen3AsrEngine;
  let host: Qwen3AsrEngine;
  beforeAll(async () => {
    [graph, host] = await Promise.all([
      Qwen3AsrEngine.load(dir, { graphOptimizationLevel, decoding: "graph" }),
      Qwen3AsrEngine.load(dir, { graphOptimizationLevel, decoding: "host" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([graph.close(), host.close()]);
  });
  const utterances: Utterance[] = clips.map((pcm, i) => ({ pcm, maxNewTokens: [24, 40, 12, 16][i] }));

  it("gives the same tokens batched, alone and in reverse order, in one run per batch", async () => {
    const hostBatch = await host.transcribe(utterances);
    const hostRuns = host.lastBatch.decoderRuns;
    const graphBatch = await graph.transcribe(utterances);
    expectSameDecoding(graphBatch, hostBatch);
    expect(graph.decoding).toBe("graph");
    expect(graph.lastBatch.decoderRuns).toBe(1);
    expect(hostRuns).toBe(host.lastBatch.decodeSteps + 1);
    expect(hostRuns).toBeGreaterThan(10);

    const reversed = await graph.transcribe([...utterances].reverse());
    expect(reversed.map((r) => r.generatedIds).reverse()).toEqual(graphBatch.map((r) => r.generatedIds));
    for (let i = 0; i < utterances.length; i++) {
      const [alone] = await graph.transcribe([utterances[i]]);
      expect(alone.generatedIds).toEqual(graphBatch[i].generatedIds);
    }
  });
});

describe("a row that reaches its reservation is continued until it ends", () => {
  let engine: Qwen3AsrEngine;
  beforeAll(async () => {
    engine = await Qwen3AsrEngine.load(shipped);
  });
  afterAll(() => engine.close());

  it("comes back whole with finish_reason stop, whatever the first bound", async () => {
    const speech = clips[0];
    const [whole] = await engine.transcribe([{ pcm: speech, maxNewTokens: 64 }]);
    expect(whole.stopReason).toBe("eos");
    expect(whole.text).toBe("Set a timer for five minutes.");
    for (const bound of [1, 2, 5]) {
      const [cut] = await engine.transcribe([{ pcm: speech, maxNewTokens: bound }]);
      expect(cut.finishReason).toBe("length");
      expect(cut.generatedIds).toEqual(whole.generatedIds.slice(0, bound));
      const [continued] = await engine.transcribe([{ pcm: speech, maxNewTokens: bound, hardMaxNewTokens: 64 }, { pcm: clips[1], maxNewTokens: 64 }]);
      expect(continued.generatedIds).toEqual(whole.generatedIds);
      expect(continued.text).toBe(whole.text);
      expect(continued.finishReason).toBe("stop");
      expect(continued.continuations).toBeGreaterThanOrEqual(1);
    }
  });

  it("stops at the hard bound and says so", async () => {
    const [result] = await engine.transcribe([{ pcm: clips[0], maxNewTokens: 1, hardMaxNewTokens: 3 }]);
    expect(result.generatedIds).toHaveLength(3);
    expect(result.finishReason).toBe("length");
    expect(result.continuations).toBe(2);
  });
});
