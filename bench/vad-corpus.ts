/**
 * The labelled speech-detection corpus (test/fixtures/vad-corpus, written by tools/make_vad_corpus.ts) and
 * how a detector does on it through the worker's own chunk planning. Shared by `npm run bench:vad` and the
 * corpus test.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { SpeechDetector } from "../gpu-worker/audio/chunk.js";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { planJobChunks, type JobChunking } from "../gpu-worker/audio/plan-job.js";
import { speechCoverage, type SpeechCoverage } from "../gpu-worker/audio/speech-coverage.js";

export interface CorpusFile {
  file: string;
  description: string;
  sampleRate: number;
  durationSeconds: number;
  speech: [number, number][];
}

export interface DecodedCorpusFile extends CorpusFile {
  name: string;
  /** 16 kHz mono, as the worker sees it. */
  pcm: Float32Array;
}

const corpusDir = new URL("../test/fixtures/vad-corpus/", import.meta.url);

export async function loadVadCorpus(): Promise<DecodedCorpusFile[]> {
  const labels = JSON.parse(readFileSync(new URL("labels.json", corpusDir), "utf8")) as { files: CorpusFile[] };
  const out: DecodedCorpusFile[] = [];
  for (const entry of labels.files) {
    const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL(entry.file, corpusDir))));
    const { pcm } = await decodeAudio(bytes, { minDurationSeconds: 0 });
    out.push({ ...entry, name: entry.file.replace(/\.flac$/, ""), pcm });
  }
  return out;
}

/** The worker's defaults (shared/config.ts `chunking`). */
export const defaultJobChunking: JobChunking = { chunkSeconds: 30, overlapSeconds: 1, skipSilenceSeconds: 2 };

export interface DetectorResult extends SpeechCoverage {
  name: string;
  /** Wall time of the detector alone. */
  detectMs: number;
  chunks: number;
}

export async function measureDetector(
  detector: SpeechDetector,
  file: DecodedCorpusFile,
  chunking: JobChunking = defaultJobChunking,
): Promise<DetectorResult> {
  const started = performance.now();
  const speech = await detector.detect(file.pcm, 16000);
  const detectMs = performance.now() - started;
  const chunks = planJobChunks(file.pcm, 16000, speech, chunking);
  return { name: file.name, detectMs, chunks: chunks.length, ...speechCoverage(file.speech, chunks, file.pcm.length / 16000) };
}
