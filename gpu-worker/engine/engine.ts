import * as ort from "onnxruntime-node";
import { audioTokenCount, type ModelConfig } from "../../shared/model-config.js";
import { LogMelExtractor, normalizePeak, type LogMel } from "../audio/features.js";
import { encodeClips } from "./audio-encoder.js";
import { NoSpeechProbe, rowConfidence, watchedTokens, type NoSpeechTokens } from "./confidence.js";
import { EngineError } from "./errors.js";
import { graphDecode } from "./graph-decoder.js";
import { greedyDecode, type DecodeResult, type DecodeRow } from "./greedy-decoder.js";
import { loadModelDirectory, type ModelDirectory } from "./model-dir.js";
import { openModelSessions, type ModelSessions, type SessionOptions } from "./sessions.js";
import { readFloat32 } from "./tensor-dtype.js";
import { AsrTokenizer } from "./tokenizer.js";

export interface EngineOptions extends SessionOptions {
  /** Window-sized encoder slices packed into one encoder call (bounds the dense attention bias). */
  encoderSlicesPerCall?: number;
}

export interface Utterance {
  /** 16 kHz mono float PCM. */
  pcm: Float32Array;
  /** Force the language (a name from config.json's language_suffix_ids, e.g. "English"). */
  language?: string;
  /** Tokens reserved for the output (the memory model plans for it); defaults to `defaultMaxNewTokens(duration)`. */
  maxNewTokens?: number;
  /**
   * When above `maxNewTokens`, a row that reaches its reservation without an end token is decoded again with
   * the bound doubled (greedy decoding is deterministic, so the re-run repeats its tokens and goes on), up to
   * this many tokens. Unset: `maxNewTokens` is a hard bound.
   */
  hardMaxNewTokens?: number;
  /** Context text (names, terms, the topic) put in the prompt's system turn, as Qwen3-ASR takes it. */
  context?: string;
}

export interface Transcription {
  language: string;
  text: string;
  raw: string;
  generatedIds: number[];
  stopReason: "eos" | "max_new_tokens";
  /** "stop": the model ended the text; "length": cut at the hard bound (the text may be incomplete). */
  finishReason: "stop" | "length";
  /** Times this utterance was decoded again with a larger bound because it reached its reservation. */
  continuations: number;
  /** log softmax of each generated id when it was chosen, parallel to `generatedIds`. */
  tokenLogprobs: number[];
  /** Mean log-probability of the transcript's tokens (and the end that closed it): Whisper's `avg_logprob`. */
  avgLogprob: number;
  /** The model's own probability that there is no speech: P("language None") or P(ending with no text). */
  noSpeechProb: number;
  /** Probability of the detected language's name; null when the language was forced or not written. */
  languageProb: number | null;
  tokens: { prompt: number; audio: number; generated: number };
  timings: { featuresMs: number; encoderMs: number; prefillMs: number; decodeMs: number; totalMs: number };
}

export interface BatchStats {
  batchSize: number;
  decodeSteps: number;
  /** onnxruntime runs of the decoding graph (prefill, steps, continuations) for the whole batch. */
  decoderRuns: number;
  /** Fraction of decoder cache slots that held padding rather than real tokens. */
  paddingWaste: number;
}

/** Generation bound from duration, generous for speech (≈ 3.3 tokens/s) so real text is never cut. */
export const defaultMaxNewTokens = (durationSeconds: number): number => Math.ceil(6 * durationSeconds) + 16;

/** Qwen3-ASR on onnxruntime-node: features → encoder → batched greedy decoding → { language, text }. */
export class Qwen3AsrEngine {
  private readonly extractor: LogMelExtractor;
  private readonly promptCache = new Map<string, Float32Array>();
  private readonly contextCache = new Map<string, number[]>();
  private readonly noSpeechTokens: NoSpeechTokens;
  lastBatch: BatchStats = { batchSize: 0, decodeSteps: 0, decoderRuns: 0, paddingWaste: 0 };

  private constructor(
    readonly model: ModelDirectory,
    private readonly sessions: ModelSessions,
    readonly tokenizer: AsrTokenizer,
    private readonly options: EngineOptions,
  ) {
    const c = model.config;
    this.extractor = new LogMelExtractor({ sampleRate: c.qwen3_asr.sample_rate, nFft: c.qwen3_asr.n_fft, hopLength: c.hop_length, nMels: c.features_size });
    const none = tokenizer.encode(" None");
    this.noSpeechTokens = {
      languagePrefix: tokenizer.encode("language"),
      // Only a single-token " None" can be scored at one step; a vocabulary without it has no such answer.
      noneId: none.length === 1 ? none[0] : undefined,
      textStartId: c.text_start_token_id,
      eosIds: c.eos_token_ids,
    };
  }

  static async load(dir: string, options: EngineOptions = {}): Promise<Qwen3AsrEngine> {
    const model = loadModelDirectory(dir);
    const tokenizer = new AsrTokenizer(model.tokenizerJson, model.config);
    const sessions = await openModelSessions(model, options);
    return new Qwen3AsrEngine(model, sessions, tokenizer, options);
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  get sampleRate(): number {
    return this.config.qwen3_asr.sample_rate;
  }

  /** Throws the EngineError that `transcribe` would raise for this audio, without running the model. */
  validate(utterance: Utterance): void {
    const { pcm, language } = utterance;
    if (pcm.length === 0) throw new EngineError("empty_audio", "the audio has no samples");
    for (let i = 0; i < pcm.length; i++) {
      if (!Number.isFinite(pcm[i])) throw new EngineError("invalid_samples", `sample ${i} is ${pcm[i]}; audio must be finite`);
    }
    if (pcm.length < this.extractor.minSamples) {
      const ms = (1000 * this.extractor.minSamples) / this.sampleRate;
      throw new EngineError("audio_too_short", `audio needs at least ${this.extractor.minSamples} samples (${ms.toFixed(1)} ms) for one encoder frame, got ${pcm.length}`);
    }
    const frames = this.extractor.frameCount(pcm.length);
    if (frames > this.config.max_frames) {
      throw new EngineError("audio_too_long", `${frames} frames exceed max_frames ${this.config.max_frames} for one call; chunk the audio first`);
    }
    if (language !== undefined && !(language in this.config.language_suffix_ids)) {
      throw new EngineError("unsupported_language", `language "${language}" is not one of ${Object.keys(this.config.language_suffix_ids).join(", ")}`);
    }
    if (utterance.maxNewTokens !== undefined && !(Number.isInteger(utterance.maxNewTokens) && utterance.maxNewTokens >= 1)) {
      throw new EngineError("sequence_too_long", `maxNewTokens must be a positive integer, got ${utterance.maxNewTokens}`);
    }
    if (utterance.hardMaxNewTokens !== undefined && !(Number.isInteger(utterance.hardMaxNewTokens) && utterance.hardMaxNewTokens >= 1)) {
      throw new EngineError("sequence_too_long", `hardMaxNewTokens must be a positive integer, got ${utterance.hardMaxNewTokens}`);
    }
  }

  /**
   * Prompt ids around the audio: the prefix (config.json's, or with the context encoded in the system turn), then
   * the suffix (with "language X<asr_text>" when forced).
   */
  promptIds(language?: string, context?: string): { prefix: number[]; suffix: number[] } {
    const c = this.config;
    const prefix = context ? this.contextPrefix(context) : c.prompt_prefix_ids;
    return { prefix, suffix: language ? c.language_suffix_ids[language] : c.prompt_suffix_ids };
  }

  /** Prompt tokens a context adds to the empty-context prefix (what the memory model must reserve). */
  contextTokens(context: string | undefined): number {
    return context ? this.contextPrefix(context).length - this.config.prompt_prefix_ids.length : 0;
  }

  private contextPrefix(context: string): number[] {
    let ids = this.contextCache.get(context);
    if (!ids) {
      // Special tokens are literal in the template; the context itself must not smuggle any in.
      const safe = context.replace(/<\|[^|>]*\|>|<asr_text>/g, " ");
      ids = this.tokenizer.encode(`<|im_start|>system\n${safe}<|im_end|>\n<|im_start|>user\n<|audio_start|>`);
      if (this.contextCache.size > 256) this.contextCache.clear();
      this.contextCache.set(context, ids);
    }
    return ids;
  }

  /** Prompt + audio token count of an utterance with `frames` feature frames. */
  promptTokens(frames: number, language?: string, context?: string): number {
    const { prefix, suffix } = this.promptIds(language, context);
    return prefix.length + audioTokenCount(this.config, frames) + suffix.length;
  }

  async transcribe(utterances: Utterance[], options: { encoderSlicesPerCall?: number } = {}): Promise<Transcription[]> {
    if (utterances.length === 0) return [];
    utterances.forEach((u, i) => {
      try {
        this.validate(u);
      } catch (error) {
        if (error instanceof EngineError) throw new EngineError(error.code, `utterance ${i}: ${error.message}`);
        throw error;
      }
    });
    const hidden = this.config.qwen3_asr.hidden_size;
    const started = performance.now();

    const featuresMs: number[] = [];
    const mels: LogMel[] = utterances.map((u) => {
      const t = performance.now();
      const mel = this.extractor.extract(normalizePeak(u.pcm));
      featuresMs.push(performance.now() - t);
      return mel;
    });
    const slicesPerCall = options.encoderSlicesPerCall ?? this.options.encoderSlicesPerCall ?? 8;
    const encoded = await encodeClips(this.sessions.encoder, this.config, mels, slicesPerCall);

    const rows: DecodeRow[] = [];
    const promptCounts: number[] = [];
    for (let i = 0; i < utterances.length; i++) {
      const u = utterances[i];
      const { prefix, suffix } = this.promptIds(u.language, u.context);
      const [pre, suf] = await Promise.all([this.embedPrompt(prefix), this.embedPrompt(suffix)]);
      const length = prefix.length + encoded[i].tokens + suffix.length;
      const maxNewTokens = u.maxNewTokens ?? defaultMaxNewTokens(u.pcm.length / this.sampleRate);
      if (length + maxNewTokens > this.config.max_sequence_length) {
        throw new EngineError("sequence_too_long", `utterance ${i}: ${length} prompt + ${maxNewTokens} new tokens exceed max_sequence_length ${this.config.max_sequence_length}`);
      }
      const prompt = new Float32Array(length * hidden);
      prompt.set(pre, 0);
      prompt.set(encoded[i].embeds, pre.length);
      prompt.set(suf, pre.length + encoded[i].embeds.length);
      rows.push({ prompt, maxNewTokens, noSpeech: new NoSpeechProbe(this.noSpeechTokens, u.language !== undefined) });
      promptCounts.push(length);
    }

    const decoded = await this.decode(rows);
    // Rows that reached their reservation without an end token are decoded again, alone, with the bound doubled.
    const hardBound = rows.map((row, i) =>
      Math.min(Math.max(utterances[i].hardMaxNewTokens ?? row.maxNewTokens, row.maxNewTokens), this.config.max_sequence_length - promptCounts[i]),
    );
    const final = decoded.rows.map((row) => ({ ...row, continuations: 0 }));
    let runs = decoded.runs;
    for (let i = 0; i < rows.length; i++) {
      let bound = rows[i].maxNewTokens;
      while (final[i].stopReason === "max_new_tokens" && bound < hardBound[i]) {
        bound = Math.min(2 * bound, hardBound[i]);
        const again = await this.decode([{ prompt: rows[i].prompt, maxNewTokens: bound }]);
        runs += again.runs;
        final[i] = { ...again.rows[0], continuations: final[i].continuations + 1 };
      }
    }
    this.lastBatch = {
      batchSize: utterances.length,
      decodeSteps: decoded.steps,
      decoderRuns: runs,
      paddingWaste: decoded.paddedSlots > 0 ? 1 - decoded.realSlots / decoded.paddedSlots : 0,
    };
    const totalMs = performance.now() - started;
    return final.map((row, i) => {
      const parsed = this.tokenizer.parse(row.ids, utterances[i].language);
      const confidence = rowConfidence(row.ids, row.tokenLogprobs, this.noSpeechTokens, utterances[i].language !== undefined);
      return {
        ...parsed,
        generatedIds: row.ids,
        stopReason: row.stopReason,
        finishReason: row.stopReason === "eos" ? "stop" : "length",
        continuations: row.continuations,
        tokenLogprobs: row.tokenLogprobs,
        avgLogprob: confidence.avgLogprob,
        noSpeechProb: rows[i].noSpeech?.value ?? 0,
        languageProb: confidence.languageProb,
        tokens: { prompt: promptCounts[i], audio: encoded[i].tokens, generated: row.ids.length },
        timings: {
          featuresMs: featuresMs[i],
          encoderMs: encoded[i].encoderMs,
          prefillMs: decoded.prefillMs,
          decodeMs: row.decodeMs,
          totalMs,
        },
      };
    });
  }

  /** Which loop runs the batch: generate.onnx in one run, or decoder.onnx step by step from JavaScript. */
  get decoding(): "graph" | "host" {
    return this.sessions.decoder.kind;
  }

  private async decode(rows: DecodeRow[]): Promise<DecodeResult> {
    const { kind, session } = this.sessions.decoder;
    if (kind === "host") return greedyDecode(session, (ids) => this.embed(ids), this.config, rows);
    // The graph reports, per step, the log-probabilities of the tokens the no-speech probe reads.
    const watched = watchedTokens(this.noSpeechTokens);
    const result = await graphDecode(session, this.config, rows, watched);
    result.rows.forEach((row, r) => {
      const probe = rows[r].noSpeech;
      if (!probe || !row.watchLogprobs) return;
      row.watchLogprobs.forEach((step, t) => {
        const probability = (ids: readonly number[]): number =>
          Math.min(1, ids.reduce((p, id) => p + (watched.includes(id) ? Math.exp(step[watched.indexOf(id)]) : 0), 0));
        probe.observeWith(probability, row.ids.slice(0, t));
      });
    });
    return result;
  }

  private async embed(ids: number[][]): Promise<Float32Array> {
    const width = ids[0].length;
    const flat = BigInt64Array.from(ids.flat(), (v) => BigInt(v));
    const out = await this.sessions.embedTokens.run({ input_ids: new ort.Tensor("int64", flat, [ids.length, width]) });
    return readFloat32(out.inputs_embeds);
  }

  private async embedPrompt(ids: number[]): Promise<Float32Array> {
    const key = ids.join(",");
    let cached = this.promptCache.get(key);
    if (!cached) {
      cached = await this.embed([ids]);
      if (this.promptCache.size > 512) this.promptCache.clear(); // contexts vary per job: keep it bounded
      this.promptCache.set(key, cached);
    }
    return cached;
  }

  async close(): Promise<void> {
    await Promise.all([this.sessions.encoder.release(), this.sessions.embedTokens.release(), this.sessions.decoder.session.release()]);
  }
}
