import { seededRandom } from "../../shared/seeded-random.js";
import { describe, expect, it } from "vitest";
import {
  chunkAudio,
  createEnergySpeechDetector,
  detectSpeechByEnergy,
  planChunks,
  type AudioChunk,
} from "../../gpu-worker/audio/chunk.js";

const sampleRate = 16_000;
const limitSamples = 30 * sampleRate;

// ---------------------------------------------------------------------------------------------------------------
// Synthetic audio: voiced "speech" (harmonics of a pitch, with a 4 Hz syllable envelope and some breath noise)
// and "silence" (faint noise), everything scaled by one gain.

type Part = { kind: "speech" | "silence"; seconds: number };

interface SampleSpan {
  start: number;
  end: number;
}

interface Synthetic {
  pcm: Float32Array;
  speech: SampleSpan[];
  silences: SampleSpan[];
}

interface SynthesisOptions {
  gain?: number;
  /** Amplitude of the background noise, before gain (speech peaks near 0.5). */
  noise?: number;
  seed?: number;
}

/** Syllable envelope of the synthetic speech at time t: 0.2 at its troughs, 1 at its peaks. */
function syllableEnvelope(t: number): number {
  return 0.6 + 0.4 * Math.sin(2 * Math.PI * 4 * t);
}

function synthesize(parts: readonly Part[], options: SynthesisOptions = {}): Synthetic {
  const { gain = 1, noise = 1e-4, seed = 1 } = options;
  const total = parts.reduce((sum, part) => sum + Math.round(part.seconds * sampleRate), 0);
  const pcm = new Float32Array(total);
  const random = seededRandom(seed);
  const speech: SampleSpan[] = [];
  const silences: SampleSpan[] = [];
  let offset = 0;
  parts.forEach((part, p) => {
    const length = Math.round(part.seconds * sampleRate);
    const pitch = 110 + 15 * (p % 7);
    for (let i = offset; i < offset + length; i++) {
      const t = i / sampleRate;
      let sample = noise * (2 * random() - 1);
      if (part.kind === "speech") {
        const voiced =
          Math.sin(2 * Math.PI * pitch * t) +
          0.5 * Math.sin(2 * Math.PI * 2 * pitch * t) +
          0.25 * Math.sin(2 * Math.PI * 3 * pitch * t);
        sample += syllableEnvelope(t) * (0.25 * voiced + 0.05 * (2 * random() - 1));
      }
      pcm[i] = gain * sample;
    }
    (part.kind === "speech" ? speech : silences).push({ start: offset, end: offset + length });
    offset += length;
  });
  return { pcm, speech, silences };
}


function alternate(speechSeconds: readonly number[], silenceSeconds: number): Part[] {
  return speechSeconds.flatMap((seconds, i): Part[] =>
    i === 0
      ? [{ kind: "speech", seconds }]
      : [
          { kind: "silence", seconds: silenceSeconds },
          { kind: "speech", seconds },
        ],
  );
}

// ---------------------------------------------------------------------------------------------------------------

function expectValidPlan(chunks: readonly AudioChunk[], totalSamples: number): void {
  chunks.forEach((chunk, i) => {
    expect(chunk.index).toBe(i);
    expect(chunk.startSample).toBeGreaterThanOrEqual(0);
    expect(chunk.endSample).toBeLessThanOrEqual(totalSamples);
    expect(chunk.endSample).toBeGreaterThan(chunk.startSample);
    expect(chunk.endSample - chunk.startSample).toBeLessThanOrEqual(limitSamples);
    expect(chunk.startSeconds).toBeCloseTo(chunk.startSample / sampleRate, 9);
    expect(chunk.endSeconds).toBeCloseTo(chunk.endSample / sampleRate, 9);
    if (i > 0) expect(chunk.startSample).toBeGreaterThan(chunks[i - 1].startSample);
  });
}

function expectSpeechCovered(chunks: readonly AudioChunk[], speech: readonly SampleSpan[]): void {
  for (const span of speech) {
    let covered = span.start;
    for (const chunk of chunks) {
      if (chunk.startSample <= covered && chunk.endSample > covered) covered = chunk.endSample;
    }
    expect(covered, `speech ${span.start}–${span.end} covered up to ${covered}`).toBeGreaterThanOrEqual(span.end);
  }
}

function inside(sample: number, spans: readonly SampleSpan[]): SampleSpan | undefined {
  return spans.find((span) => span.start <= sample && sample <= span.end);
}

describe("planChunks on synthetic audio", () => {
  it("gives one chunk for a short utterance, trimmed to the speech and a little padding", () => {
    const audio = synthesize([
      { kind: "silence", seconds: 1.5 },
      { kind: "speech", seconds: 8 },
      { kind: "silence", seconds: 1.5 },
    ]);
    const chunks = planChunks(audio.pcm, sampleRate);
    expect(chunks).toHaveLength(1);
    const [speech] = audio.speech;
    expect(chunks[0].startSample).toBeLessThanOrEqual(speech.start);
    expect(chunks[0].startSample).toBeGreaterThanOrEqual(speech.start - 0.4 * sampleRate);
    expect(chunks[0].endSample).toBeGreaterThanOrEqual(speech.end);
    expect(chunks[0].endSample).toBeLessThanOrEqual(speech.end + 0.4 * sampleRate);
    expect(chunks[0]).toMatchObject({ overlapSamples: 0, endReason: "speech-end" });
  });

  it("cuts in the middle of a pause near the limit, and the next chunk starts there without overlap", () => {
    const audio = synthesize(alternate(Array(14).fill(6.5), 0.6));
    const chunks = planChunks(audio.pcm, sampleRate);
    expectValidPlan(chunks, audio.pcm.length);
    expectSpeechCovered(chunks, audio.speech);
    expect(chunks.length).toBe(Math.ceil(audio.pcm.length / limitSamples));
    for (const [i, chunk] of chunks.slice(0, -1).entries()) {
      expect(chunk.endReason).toBe("pause");
      expect(chunk.endSample - chunk.startSample).toBeGreaterThan(25 * sampleRate);
      const pause = inside(chunk.endSample, audio.silences);
      expect(pause, `cut ${chunk.endSeconds}s is in a pause`).toBeDefined();
      expect(Math.abs(chunk.endSample - (pause!.start + pause!.end) / 2)).toBeLessThanOrEqual(0.03 * sampleRate);
      expect(chunks[i + 1].startSample).toBe(chunk.endSample);
      expect(chunks[i + 1].overlapSamples).toBe(0);
    }
  });

  it("prefers the longest pause within the search window over a later, shorter one", () => {
    const audio = synthesize([
      { kind: "speech", seconds: 25.5 },
      { kind: "silence", seconds: 1.2 },
      { kind: "speech", seconds: 2 },
      { kind: "silence", seconds: 0.3 },
      { kind: "speech", seconds: 10 },
    ]);
    const [first] = planChunks(audio.pcm, sampleRate);
    expect(inside(first.endSample, [audio.silences[0]])).toBeDefined();
  });

  it("skips long silences, keeps short ones, and never makes a chunk of silence", () => {
    const audio = synthesize([
      { kind: "silence", seconds: 4 },
      { kind: "speech", seconds: 5 },
      { kind: "silence", seconds: 10 },
      { kind: "speech", seconds: 5 },
      { kind: "silence", seconds: 1.5 },
      { kind: "speech", seconds: 4 },
      { kind: "silence", seconds: 3 },
      { kind: "speech", seconds: 3 },
      { kind: "silence", seconds: 6 },
    ]);
    const chunks = planChunks(audio.pcm, sampleRate);
    expectValidPlan(chunks, audio.pcm.length);
    expectSpeechCovered(chunks, audio.speech);
    // The 1.5 s silence stays inside a chunk; the 4, 10, 3 and 6 s ones are skipped.
    expect(chunks).toHaveLength(3);
    expect(chunks.every((chunk) => chunk.endReason === "speech-end" && chunk.overlapSamples === 0)).toBe(true);
    const skipped = audio.silences.filter((s) => s.end - s.start >= 2 * sampleRate);
    for (const silence of skipped) {
      const interior = { start: silence.start + 0.5 * sampleRate, end: silence.end - 0.5 * sampleRate };
      for (const chunk of chunks) {
        expect(chunk.endSample <= interior.start || chunk.startSample >= interior.end).toBe(true);
      }
    }
  });

  it("still chunks continuous speech, cutting at a low-energy point and overlapping the next chunk", () => {
    const audio = synthesize([{ kind: "speech", seconds: 95 }]);
    const chunks = planChunks(audio.pcm, sampleRate);
    expectValidPlan(chunks, audio.pcm.length);
    expectSpeechCovered(chunks, audio.speech);
    expect(chunks).toHaveLength(4);
    for (const [i, chunk] of chunks.slice(0, -1).entries()) {
      expect(chunk.endReason).toBe("in-speech");
      expect(chunk.endSample - chunk.startSample).toBeGreaterThanOrEqual(25 * sampleRate);
      // A syllable trough (envelope 0.2…1), not the middle of a syllable.
      expect(syllableEnvelope(chunk.endSeconds)).toBeLessThan(0.3);
      expect(chunks[i + 1].startSample).toBe(chunk.endSample - sampleRate);
      expect(chunks[i + 1].overlapSamples).toBe(sampleRate);
    }
  });

  it("gives zero chunks for silent audio", () => {
    expect(planChunks(new Float32Array(60 * sampleRate), sampleRate)).toEqual([]);
    expect(planChunks(synthesize([{ kind: "silence", seconds: 60 }], { noise: 1e-4 }).pcm, sampleRate)).toEqual([]);
    expect(planChunks(new Float32Array(0), sampleRate)).toEqual([]);
  });

  it("plans the same chunks whatever the gain", () => {
    const parts: Part[] = [
      ...alternate([12, 20, 7, 31, 3], 0.8),
      { kind: "silence", seconds: 5 },
      { kind: "speech", seconds: 9 },
    ];
    const reference = planChunks(synthesize(parts).pcm, sampleRate);
    expect(reference.length).toBeGreaterThan(3);
    // 0.01 puts speech near -55 dBFS, just above the absolute floor.
    for (const gain of [0.01, 0.1, 1.8]) {
      expect(planChunks(synthesize(parts, { gain }).pcm, sampleRate)).toEqual(reference);
    }
  });

  it("finds the silences under background noise 30 dB below speech, and drops nothing at 10 dB", () => {
    const parts = alternate([8, 8, 8], 3);
    const noisy = synthesize(parts, { noise: 0.015 });
    const chunks = planChunks(noisy.pcm, sampleRate);
    expect(chunks).toHaveLength(3);
    expectSpeechCovered(chunks, noisy.speech);
    const veryNoisy = synthesize(parts, { noise: 0.12 });
    expectSpeechCovered(planChunks(veryNoisy.pcm, sampleRate), veryNoisy.speech);
  });

  it("follows chunk, overlap and search options", () => {
    const audio = synthesize([{ kind: "speech", seconds: 40 }]);
    const chunks = planChunks(audio.pcm, sampleRate, { chunkSeconds: 10, overlapSeconds: 0.5, cutSearchSeconds: 2 });
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.endSample - chunk.startSample).toBeLessThanOrEqual(10 * sampleRate);
      if (i + 1 < chunks.length) {
        expect(chunk.endSample - chunk.startSample).toBeGreaterThanOrEqual(8 * sampleRate);
        expect(chunks[i + 1].startSample).toBe(chunk.endSample - 0.5 * sampleRate);
      }
    }
    expectSpeechCovered(chunks, audio.speech);
  });

  it("rejects options that cannot make progress and speech frames that do not fit the audio", () => {
    const pcm = new Float32Array(sampleRate);
    expect(() => planChunks(pcm, sampleRate, { chunkSeconds: 5, overlapSeconds: 1, cutSearchSeconds: 4 })).toThrow(
      RangeError,
    );
    expect(() => planChunks(pcm, sampleRate, { chunkSeconds: 0 })).toThrow(RangeError);
    expect(() => planChunks(pcm, sampleRate, { overlapSeconds: -1 })).toThrow(RangeError);
    expect(() => planChunks(pcm, 0)).toThrow(RangeError);
    expect(() => planChunks(pcm, sampleRate, { speech: { frameSamples: 512, isSpeech: new Uint8Array(3) } })).toThrow(
      RangeError,
    );
  });
});

describe("speech detection", () => {
  it("marks tones as speech and faint noise as non-speech, at any gain", () => {
    for (const gain of [0.02, 1]) {
      const audio = synthesize(alternate([2, 2], 2), { gain });
      const { frameSamples, isSpeech } = detectSpeechByEnergy(audio.pcm, sampleRate);
      expect(frameSamples).toBe(320);
      const frameAt = (seconds: number): number => isSpeech[Math.floor((seconds * sampleRate) / frameSamples)];
      expect([frameAt(1), frameAt(3), frameAt(5)]).toEqual([1, 0, 1]);
    }
  });

  it("finds no speech in a clip whose loudest frames are below the absolute floor, however it is shaped", () => {
    const audio = synthesize(alternate([2, 2], 2), { gain: 1e-3 });
    expect(detectSpeechByEnergy(audio.pcm, sampleRate).isSpeech.every((v) => v === 0)).toBe(true);
    expect(detectSpeechByEnergy(audio.pcm, sampleRate, { absoluteFloorDb: -80 }).isSpeech.some((v) => v === 1)).toBe(
      true,
    );
  });

  it("keeps a little speech in a long digital silence: the threshold follows the noise floor, not a percentile", () => {
    // 1.5 s of speech in 120 s (1.25 %): a percentile of the whole file taken as the speech level is silence.
    for (const layout of [
      [{ kind: "speech", seconds: 1.5 }, { kind: "silence", seconds: 120 }],
      [{ kind: "silence", seconds: 60 }, { kind: "speech", seconds: 1.5 }, { kind: "silence", seconds: 60 }],
    ] as Part[][]) {
      const audio = synthesize(layout, { noise: 0 });
      const chunks = planChunks(audio.pcm, sampleRate);
      expect(chunks).toHaveLength(1);
      expectSpeechCovered(chunks, audio.speech);
      expect(chunks[0].endSeconds - chunks[0].startSeconds).toBeLessThan(3);
    }
  });

  it("finds no speech in a steady background alone, digital or noise, quiet or loud", () => {
    for (const noise of [0, 1e-3, 0.05]) {
      const audio = synthesize([{ kind: "silence", seconds: 40 }], { noise });
      expect(detectSpeechByEnergy(audio.pcm, sampleRate).isSpeech.includes(1), `noise ${noise}`).toBe(false);
    }
  });

  it("accepts frames from another detector, of another frame size", async () => {
    // A loud tone throughout; the plugged-in detector says only 10–20 s and 40–45 s are speech.
    const audio = synthesize([{ kind: "speech", seconds: 60 }]);
    const frameSamples = 512;
    const isSpeech = new Uint8Array(Math.ceil(audio.pcm.length / frameSamples));
    const mark = (from: number, to: number): void => {
      isSpeech.fill(1, Math.floor((from * sampleRate) / frameSamples), Math.ceil((to * sampleRate) / frameSamples));
    };
    mark(10, 20);
    mark(40, 45);
    const detector = { detect: async () => ({ frameSamples, isSpeech }) };
    const chunks = planChunks(audio.pcm, sampleRate, { speech: await detector.detect() });
    expect(chunks).toHaveLength(2);
    expect(chunks[0].startSeconds).toBeGreaterThan(9.7);
    expect(chunks[0].endSeconds).toBeLessThan(20.3);
    expect(chunks[1].startSeconds).toBeGreaterThan(39.7);
  });

  it("offers the energy detector behind the SpeechDetector interface", () => {
    const audio = synthesize(alternate([3, 3], 3));
    expect(createEnergySpeechDetector({ hangoverSeconds: 0 }).detect(audio.pcm, sampleRate)).toEqual(
      detectSpeechByEnergy(audio.pcm, sampleRate, { hangoverSeconds: 0 }),
    );
  });
});

describe("one hour of audio", () => {
  it("is planned quickly, on views of the input and without copying it", () => {
    // 60 s blocks: speech with short pauses, and one 4 s silence.
    const block = synthesize([...alternate([9, 7, 11, 6, 12, 8.5], 0.5), { kind: "silence", seconds: 4 }]).pcm;
    const blocks = 60;
    const pcm = new Float32Array(block.length * blocks);
    for (let b = 0; b < blocks; b++) pcm.set(block, b * block.length);
    expect(pcm.length / sampleRate).toBe(3600);

    const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const chunks = planChunks(pcm, sampleRate);
    const elapsedMs = performance.now() - started;
    const grownBytes = process.memoryUsage().arrayBuffers - arrayBuffersBefore;

    expect(elapsedMs).toBeLessThan(5_000);
    // Per-frame arrays only (a few MB); a copy of the audio would be 230 MB.
    expect(grownBytes).toBeLessThan(pcm.byteLength / 20);
    expectValidPlan(chunks, pcm.length);
    expect(chunks.length).toBeGreaterThanOrEqual(2 * blocks);
    expect(chunks.length).toBeLessThanOrEqual(3 * blocks);
    for (const chunk of chunks) {
      const view = chunkAudio(pcm, chunk);
      expect(view.buffer).toBe(pcm.buffer);
      expect(view.length).toBe(chunk.endSample - chunk.startSample);
    }
  });
});
