import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { planChunks } from "../../gpu-worker/audio/chunk.js";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { SileroSpeechDetector } from "../../gpu-worker/audio/silero-vad.js";
import { readPcm16Wav } from "../support/wav.js";

describe("Silero VAD as the chunker's speech detector", () => {
  let detector: SileroSpeechDetector;
  beforeAll(async () => {
    detector = await SileroSpeechDetector.load();
  });

  it("marks speech as speech and silence as silence", async () => {
    const speech = readPcm16Wav(new URL("../fixtures/audio/speech-long.wav", import.meta.url));
    const pcm = new Float32Array(speech.length + 3 * 16000 + speech.length);
    pcm.set(speech, 0);
    pcm.set(speech, speech.length + 3 * 16000);
    const frames = await detector.detect(pcm, 16000);
    const share = (from: number, to: number) => {
      const a = Math.floor(from / frames.frameSamples);
      const b = Math.floor(to / frames.frameSamples);
      return frames.isSpeech.subarray(a, b).reduce((s, x) => s + x, 0) / (b - a);
    };
    expect(share(speech.length + 8000, speech.length + 40000)).toBe(0); // the middle of the 3 s gap
    expect(share(16000, speech.length - 16000)).toBeGreaterThan(0.6); // mostly speech (espeak has word gaps)
  });

  it("lets the planner cut two minutes of speech inside pauses", async () => {
    const pcm = (await decodeAudio(new Uint8Array(readFileSync(new URL("../fixtures/audio/long-10min.ogg", import.meta.url))))).pcm.subarray(0, 120 * 16000);
    const chunks = planChunks(pcm, 16000, { speech: await detector.detect(pcm, 16000) });
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    for (const c of chunks) expect(c.endSeconds - c.startSeconds).toBeLessThanOrEqual(30);
    for (const c of chunks.slice(0, -1)) {
      const around = pcm.subarray(c.endSample - 800, c.endSample + 800);
      const rms = Math.sqrt(around.reduce((s, x) => s + x * x, 0) / around.length);
      expect(rms, `cut at ${c.endSeconds.toFixed(2)} s`).toBeLessThan(0.005);
    }
  }, 120_000);
});
