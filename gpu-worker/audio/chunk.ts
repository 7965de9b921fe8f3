/**
 * Long-audio chunking: where to cut hours of mono PCM into pieces of at most `chunkSeconds` for Qwen3-ASR.
 *
 * Cut policy (compare qwen-asr and vLLM, design/qwen3-asr-model.md §7, which cut at the lowest-energy window
 * near the limit and never overlap):
 * - Speech detection is frame-level behind `SpeechFrames`; an energy detector is built in, and any other
 *   detector (a neural VAD such as Silero on onnxruntime-node, which is async) runs first and passes its frames.
 *   The energy detector's threshold follows the clip's noise floor (npm run bench:vad measures it on a labelled
 *   corpus), so a little speech in a long silence is still speech.
 * - Non-speech runs of at least `skipSilenceSeconds` are not transcribed; leading and trailing silence is
 *   trimmed too. `speechPaddingSeconds` of silence stays around speech so soft onsets and tails survive.
 * - A chunk that must be cut looks for a pause (non-speech ≥ `minPauseSeconds`) in the last `cutSearchSeconds`
 *   before the limit and cuts as deep inside it as possible (its middle when the pause fits). No word straddles
 *   such a cut, so the next chunk starts exactly there: no overlap, nothing for the merger to de-duplicate.
 * - With no pause in reach, it cuts at the lowest-energy `cutWindowSeconds` window (most likely between
 *   syllables) and the next chunk starts `overlapSeconds` earlier, so the word cut in two is whole in one of them.
 *
 * Memory: the audio is only read; chunks are sample ranges and `chunkAudio` returns a subarray view.
 * Per-frame arrays (one number per 20 ms) are the only allocations.
 */

/** Frame-level speech decisions from any detector. */
export interface SpeechFrames {
  /** Samples per decision; the last frame may be shorter. */
  readonly frameSamples: number;
  /** 1 = speech, 0 = non-speech; length = ceil(pcm.length / frameSamples). */
  readonly isSpeech: Uint8Array;
}

/** Anything that labels frames as speech. A neural VAD is async; await it, then pass `speech` to planChunks. */
export interface SpeechDetector {
  detect(pcm: Float32Array, sampleRate: number): SpeechFrames | Promise<SpeechFrames>;
}

export interface EnergyDetectorOptions {
  frameSeconds: number;
  /**
   * A clip whose loudest 100 ms is below this (dBFS, RMS) holds no speech: all-silent or dither-only audio gives
   * no chunks. Frames themselves are judged only relative to the clip, so gain never changes a decision above it.
   */
  absoluteFloorDb: number;
  /**
   * Frame levels are floored here, so digital silence (zeros) has a finite level: the noise floor of a clip in
   * digital silence is this, not −∞. Below 16-bit quantisation noise (−101 dBFS RMS).
   */
  digitalSilenceDb: number;
  /**
   * Percentile of frame levels taken as the clip's noise floor. Only this share of the clip needs to be
   * non-speech for the estimate to be noise; speech may be any share of the rest, however small.
   */
  noisePercentile: number;
  /** The threshold sits this far above the noise floor… */
  noiseMarginDb: number;
  /**
   * …but never closer than this to the clip's peak (its loudest 100 ms), for clips with (almost) no pause,
   * where the noise-floor estimate is really the quiet part of the speech, or noise only a little below it…
   */
  minBelowPeakDb: number;
  /** …and never closer than this to the noise floor. */
  minAboveNoiseDb: number;
  /** A clip whose peak is less than this above its noise floor is a steady background: no speech. */
  minPeakAboveNoiseDb: number;
  /** Speech decisions are widened by this on both sides, for soft onsets and word tails. */
  hangoverSeconds: number;
}

export const defaultEnergyDetectorOptions: Readonly<EnergyDetectorOptions> = {
  frameSeconds: 0.02,
  absoluteFloorDb: -60,
  digitalSilenceDb: -110,
  noisePercentile: 0.1,
  noiseMarginDb: 10,
  minBelowPeakDb: 25,
  minAboveNoiseDb: 3,
  minPeakAboveNoiseDb: 6,
  hangoverSeconds: 0.06,
};

export interface ChunkPlanOptions {
  /** Hard limit on a chunk's length. */
  chunkSeconds: number;
  /** Audio shared by consecutive chunks when a cut falls inside speech. */
  overlapSeconds: number;
  /** How far before the limit a cut point is searched for. */
  cutSearchSeconds: number;
  /** Non-speech at least this long counts as a pause: cut in it, without overlap. */
  minPauseSeconds: number;
  /** Non-speech at least this long is skipped (not transcribed). */
  skipSilenceSeconds: number;
  /** Silence kept before and after speech where silence is skipped or trimmed. */
  speechPaddingSeconds: number;
  /** Energy window scored for a cut inside speech (qwen-asr uses 100 ms). */
  cutWindowSeconds: number;
}

export const defaultChunkPlanOptions: Readonly<ChunkPlanOptions> = {
  chunkSeconds: 30,
  overlapSeconds: 1,
  cutSearchSeconds: 5,
  minPauseSeconds: 0.2,
  skipSilenceSeconds: 2,
  speechPaddingSeconds: 0.2,
  cutWindowSeconds: 0.1,
};

export interface PlanChunksInput extends Partial<ChunkPlanOptions> {
  /** Precomputed decisions (e.g. from a neural VAD); when absent the energy detector runs. */
  speech?: SpeechFrames;
  energyDetector?: Partial<EnergyDetectorOptions>;
}

/**
 * Why a chunk ends where it does:
 * - `speech-end`: the speech region ends (silence follows and is skipped, or the audio ends);
 * - `pause`: cut inside a pause; the next chunk starts at the same sample (no overlap);
 * - `in-speech`: no pause within reach; the next chunk starts `overlapSeconds` earlier.
 */
export type ChunkEnd = "speech-end" | "pause" | "in-speech";

export interface AudioChunk {
  index: number;
  startSample: number;
  /** Exclusive. */
  endSample: number;
  startSeconds: number;
  endSeconds: number;
  /** Samples shared with the previous chunk (non-zero only after an `in-speech` cut). */
  overlapSamples: number;
  endReason: ChunkEnd;
}

/** The chunk's audio as a view on `pcm` (no copy). */
export function chunkAudio(pcm: Float32Array, chunk: AudioChunk): Float32Array {
  return pcm.subarray(chunk.startSample, chunk.endSample);
}

/**
 * Ordered chunks covering every speech frame of `pcm`; empty when nothing is speech. Throws RangeError for
 * options that cannot make progress (overlap + search ≥ chunk, skipped silence ≥ chunk) or frames that do not
 * fit the audio.
 */
export function planChunks(pcm: Float32Array, sampleRate: number, input: PlanChunksInput = {}): AudioChunk[] {
  if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
  const options = resolvePlanOptions(input);
  const speech = input.speech ?? detectSpeechByEnergy(pcm, sampleRate, input.energyDetector);
  checkSpeechFrames(speech, pcm.length);
  const energy = frameMeanSquares(pcm, speech.frameSamples);
  const plan = toSamplePlan(options, sampleRate, speech.frameSamples);

  const ranges: ChunkRange[] = [];
  for (const region of findSpeechRegions(speech.isSpeech, plan)) {
    ranges.push(...splitRegion(region, speech.isSpeech, energy, plan, pcm.length));
  }
  return ranges.map((range, index) => ({
      index,
      ...range,
      startSeconds: range.startSample / sampleRate,
      endSeconds: range.endSample / sampleRate,
    }));
}

// ---------------------------------------------------------------------------------------------------------------
// Energy-based speech detection

/** Energy detector: levels relative to the clip's own speech and noise levels, so gain does not matter. */
export function createEnergySpeechDetector(options: Partial<EnergyDetectorOptions> = {}): SpeechDetector {
  return { detect: (pcm, sampleRate) => detectSpeechByEnergy(pcm, sampleRate, options) };
}

export function detectSpeechByEnergy(
  pcm: Float32Array,
  sampleRate: number,
  overrides: Partial<EnergyDetectorOptions> = {},
): SpeechFrames {
  const options = { ...defaultEnergyDetectorOptions, ...overrides };
  const frameSamples = Math.max(1, Math.round(options.frameSeconds * sampleRate));
  const levels = toDecibels(frameMeanSquares(pcm, frameSamples));
  const threshold = speechThresholdDb(levels, options, frameSamples, sampleRate);
  const isSpeech = new Uint8Array(levels.length);
  for (let f = 0; f < levels.length; f++) isSpeech[f] = levels[f] > threshold ? 1 : 0;
  const hangoverFrames = Math.round((options.hangoverSeconds * sampleRate) / frameSamples);
  return { frameSamples, isSpeech: dilate(isSpeech, hangoverFrames) };
}

/** Mean square per frame; the last frame averages over the samples it has. */
function frameMeanSquares(pcm: Float32Array, frameSamples: number): Float64Array {
  const frames = Math.ceil(pcm.length / frameSamples);
  const out = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    const start = f * frameSamples;
    const end = Math.min(start + frameSamples, pcm.length);
    let sum = 0;
    for (let i = start; i < end; i++) sum += pcm[i] * pcm[i];
    out[f] = sum / (end - start);
  }
  return out;
}

function toDecibels(meanSquares: Float64Array): Float32Array {
  const out = new Float32Array(meanSquares.length);
  // 1e-20 (-200 dB) keeps digital silence finite, far below any real noise floor.
  for (let f = 0; f < meanSquares.length; f++) out[f] = 10 * Math.log10(meanSquares[f] + 1e-20);
  return out;
}

/**
 * The level above which a frame is speech: a margin above the clip's noise floor (a low percentile of frame
 * levels), capped below its loudest 100 ms. Not a percentile of the whole clip taken as the speech level: a file
 * that is 97 % silence with a little speech would then class its speech as silence.
 */
function speechThresholdDb(levels: Float32Array, options: EnergyDetectorOptions, frameSamples: number, sampleRate: number): number {
  if (levels.length === 0) return Infinity;
  const floored = levels.map((db) => Math.max(db, options.digitalSilenceDb));
  // The peak is the loudest 100 ms (a syllable), steadier than one 20 ms frame: a steady background's peak
  // stays close to its floor, and a click does not set it.
  const peakDb = movingLevelDb(floored, Math.max(1, Math.round((0.1 * sampleRate) / frameSamples))).reduce((a, b) => Math.max(a, b), -Infinity);
  if (peakDb < options.absoluteFloorDb) return Infinity;
  const noiseDb = percentile(floored.sort(), options.noisePercentile);
  if (peakDb - noiseDb < options.minPeakAboveNoiseDb) return Infinity;
  const threshold = noiseDb + options.noiseMarginDb;
  if (threshold <= peakDb - options.minBelowPeakDb) return threshold;
  return Math.max(peakDb - options.minBelowPeakDb, noiseDb + options.minAboveNoiseDb);
}

/** Mean level (dB of mean power) of each run of `window` consecutive frames; fewer values than frames. */
function movingLevelDb(levelsDb: Float32Array, window: number): Float32Array {
  const power = Float64Array.from(levelsDb, (db) => 10 ** (db / 10));
  const span = Math.min(window, power.length);
  const out = new Float32Array(power.length - span + 1);
  let sum = 0;
  for (let f = 0; f < span; f++) sum += power[f];
  out[0] = 10 * Math.log10(sum / span);
  for (let f = span; f < power.length; f++) {
    sum += power[f] - power[f - span];
    out[f - span + 1] = 10 * Math.log10(Math.max(sum, 0) / span + 1e-30);
  }
  return out;
}

function percentile(sorted: Float32Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Widens every speech run by `frames` on both sides. */
function dilate(isSpeech: Uint8Array, frames: number): Uint8Array {
  if (frames <= 0) return isSpeech;
  const out = new Uint8Array(isSpeech.length);
  let lastSpeech = -Infinity;
  for (let f = 0; f < isSpeech.length; f++) {
    if (isSpeech[f]) lastSpeech = f;
    if (f - lastSpeech <= frames) out[f] = 1;
  }
  let nextSpeech = Infinity;
  for (let f = isSpeech.length - 1; f >= 0; f--) {
    if (isSpeech[f]) nextSpeech = f;
    if (nextSpeech - f <= frames) out[f] = 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Planning

interface ChunkRange {
  startSample: number;
  endSample: number;
  overlapSamples: number;
  endReason: ChunkEnd;
}

/** Options in samples and frames. */
interface SamplePlan {
  frameSamples: number;
  maxSamples: number;
  overlapSamples: number;
  searchSamples: number;
  minPauseFrames: number;
  skipFrames: number;
  paddingFrames: number;
  cutWindowFrames: number;
}

/** A stretch of audio to transcribe, in frames: speech up to speechEndFrame, plus padding on both sides. */
interface SpeechRegion {
  startFrame: number;
  endFrame: number;
  speechEndFrame: number;
}

function resolvePlanOptions(input: PlanChunksInput): ChunkPlanOptions {
  const options: ChunkPlanOptions = {
    chunkSeconds: input.chunkSeconds ?? defaultChunkPlanOptions.chunkSeconds,
    overlapSeconds: input.overlapSeconds ?? defaultChunkPlanOptions.overlapSeconds,
    cutSearchSeconds: input.cutSearchSeconds ?? defaultChunkPlanOptions.cutSearchSeconds,
    minPauseSeconds: input.minPauseSeconds ?? defaultChunkPlanOptions.minPauseSeconds,
    skipSilenceSeconds: input.skipSilenceSeconds ?? defaultChunkPlanOptions.skipSilenceSeconds,
    speechPaddingSeconds: input.speechPaddingSeconds ?? defaultChunkPlanOptions.speechPaddingSeconds,
    cutWindowSeconds: input.cutWindowSeconds ?? defaultChunkPlanOptions.cutWindowSeconds,
  };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0`);
  }
  if (options.chunkSeconds <= 0 || options.cutSearchSeconds <= 0 || options.skipSilenceSeconds <= 0) {
    throw new RangeError("chunkSeconds, cutSearchSeconds and skipSilenceSeconds must be positive");
  }
  // Every cut must move forward by more than the overlap.
  if (options.overlapSeconds + options.cutSearchSeconds >= options.chunkSeconds) {
    throw new RangeError("overlapSeconds + cutSearchSeconds must be less than chunkSeconds");
  }
  // A pause kept inside a region must be shorter than a chunk, or a chunk could hold only silence.
  if (options.skipSilenceSeconds >= options.chunkSeconds) {
    throw new RangeError("skipSilenceSeconds must be less than chunkSeconds");
  }
  return options;
}

function toSamplePlan(options: ChunkPlanOptions, sampleRate: number, frameSamples: number): SamplePlan {
  const frames = (seconds: number): number => Math.round((seconds * sampleRate) / frameSamples);
  const skipFrames = Math.max(1, frames(options.skipSilenceSeconds));
  return {
    frameSamples,
    maxSamples: Math.floor(options.chunkSeconds * sampleRate),
    overlapSamples: Math.round(options.overlapSeconds * sampleRate),
    searchSamples: Math.round(options.cutSearchSeconds * sampleRate),
    minPauseFrames: Math.max(1, frames(options.minPauseSeconds)),
    skipFrames,
    // Padding on both sides of a skipped gap must leave something skipped.
    paddingFrames: Math.min(frames(options.speechPaddingSeconds), Math.floor((skipFrames - 1) / 2)),
    cutWindowFrames: Math.max(1, frames(options.cutWindowSeconds)),
  };
}

function checkSpeechFrames(speech: SpeechFrames, totalSamples: number): void {
  const expected = Math.ceil(totalSamples / speech.frameSamples);
  if (!Number.isInteger(speech.frameSamples) || speech.frameSamples < 1 || speech.isSpeech.length !== expected) {
    throw new RangeError(
      `speech frames do not fit the audio: ${speech.isSpeech.length} frames of ${speech.frameSamples} samples ` +
        `for ${totalSamples} samples (expected ${expected})`,
    );
  }
}

/** Speech runs joined across gaps shorter than skipFrames, padded. */
function findSpeechRegions(isSpeech: Uint8Array, plan: SamplePlan): SpeechRegion[] {
  const regions: SpeechRegion[] = [];
  let first = -1;
  let last = -1;
  const close = (): void => {
    regions.push({
      startFrame: Math.max(0, first - plan.paddingFrames),
      endFrame: Math.min(isSpeech.length, last + 1 + plan.paddingFrames),
      speechEndFrame: last + 1,
    });
  };
  for (let f = 0; f < isSpeech.length; f++) {
    if (!isSpeech[f]) continue;
    if (first < 0) first = f;
    else if (f - last - 1 >= plan.skipFrames) {
      close();
      first = f;
    }
    last = f;
  }
  if (first >= 0) close();
  return regions;
}

function splitRegion(
  region: SpeechRegion,
  isSpeech: Uint8Array,
  energy: Float64Array,
  plan: SamplePlan,
  totalSamples: number,
): ChunkRange[] {
  let regionEnd = Math.min(totalSamples, region.endFrame * plan.frameSamples);
  const speechEnd = Math.min(totalSamples, region.speechEndFrame * plan.frameSamples);
  const ranges: ChunkRange[] = [];
  let start = region.startFrame * plan.frameSamples;
  let overlap = 0;
  while (regionEnd - start > plan.maxSamples) {
    const limit = start + plan.maxSamples;
    if (speechEnd <= limit) {
      // Only padding lies past the limit: trim it rather than cut off a chunk of silence.
      regionEnd = limit;
      break;
    }
    // The cut comes after the chunk's first speech, so no chunk is only the tail of a pause.
    const firstSpeechFrame = isSpeech.indexOf(1, Math.floor(start / plan.frameSamples));
    const window: CutWindow = {
      firstBoundary: Math.max(
        Math.ceil(Math.max(limit - plan.searchSamples, start + plan.overlapSamples + 1) / plan.frameSamples),
        firstSpeechFrame + 1,
      ),
      lastBoundary: Math.floor(limit / plan.frameSamples),
    };
    const pauseCut = findPauseCut(window, region, isSpeech, plan);
    if (pauseCut !== undefined) {
      ranges.push({ startSample: start, endSample: pauseCut, overlapSamples: overlap, endReason: "pause" });
      start = pauseCut;
      overlap = 0;
    } else {
      const cut = findQuietCut(window, energy, plan) ?? limit;
      ranges.push({ startSample: start, endSample: cut, overlapSamples: overlap, endReason: "in-speech" });
      start = cut - plan.overlapSamples;
      overlap = plan.overlapSamples;
    }
  }
  ranges.push({ startSample: start, endSample: regionEnd, overlapSamples: overlap, endReason: "speech-end" });
  return ranges;
}

/** Frame boundaries (boundary b = sample b·frameSamples) where a cut may fall. */
interface CutWindow {
  firstBoundary: number;
  lastBoundary: number;
}

/**
 * The boundary deepest inside a pause (furthest from speech on both sides) in the window; undefined when no
 * pause reaches it. Only non-speech between two speech frames counts: the padding at a region's edges does not.
 */
function findPauseCut(
  window: CutWindow,
  region: SpeechRegion,
  isSpeech: Uint8Array,
  plan: SamplePlan,
): number | undefined {
  // A pause inside a region is shorter than skipFrames, so one that reaches the window starts after this.
  const scanFrom = Math.max(region.startFrame, window.firstBoundary - plan.skipFrames);
  const scanTo = Math.min(region.endFrame, window.lastBoundary + plan.skipFrames);
  let best: { boundary: number; clearance: number } | undefined;
  let f = scanFrom;
  while (f < scanTo) {
    if (isSpeech[f]) {
      f++;
      continue;
    }
    const pauseStart = f;
    while (f < scanTo && !isSpeech[f]) f++;
    const pauseEnd = f;
    const boundedBySpeech = pauseStart > region.startFrame && isSpeech[pauseStart - 1] && pauseEnd < scanTo;
    if (!boundedBySpeech || pauseEnd - pauseStart < plan.minPauseFrames) continue;
    const lo = Math.max(pauseStart, window.firstBoundary);
    const hi = Math.min(pauseEnd, window.lastBoundary);
    if (lo > hi) continue;
    const boundary = clamp(Math.round((pauseStart + pauseEnd) / 2), lo, hi);
    const clearance = Math.min(boundary - pauseStart, pauseEnd - boundary);
    // `>=`: among equally deep cuts take the latest, for fewer chunks.
    if (clearance >= 1 && (best === undefined || clearance >= best.clearance)) best = { boundary, clearance };
  }
  return best === undefined ? undefined : best.boundary * plan.frameSamples;
}

/** The boundary at the centre of the lowest-energy window; undefined when the window holds no boundary. */
function findQuietCut(window: CutWindow, energy: Float64Array, plan: SamplePlan): number | undefined {
  const half = Math.floor(plan.cutWindowFrames / 2);
  let bestBoundary: number | undefined;
  let bestEnergy = Infinity;
  for (let b = window.firstBoundary; b <= window.lastBoundary; b++) {
    let sum = 0;
    for (let f = Math.max(0, b - half); f < Math.min(energy.length, b - half + plan.cutWindowFrames); f++) {
      sum += energy[f];
    }
    if (sum <= bestEnergy) {
      bestEnergy = sum;
      bestBoundary = b;
    }
  }
  return bestBoundary === undefined ? undefined : bestBoundary * plan.frameSamples;
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}
