/**
 * How sure the model was, from its own logits: the log-probability of each chosen token, and the probability
 * that the audio holds no speech. Pure math over one logits row; the decoder calls it once per row per step.
 */

/** log Σ exp(row), computed stably (shifted by the row's maximum). */
export function logSumExp(logits: Float32Array, base: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (logits[base + v] > max) max = logits[base + v];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - max);
  return max + Math.log(sum);
}

/** log softmax(row)[token]: the log-probability the model gave `token` at this step. */
export function tokenLogprob(logits: Float32Array, base: number, vocab: number, token: number): number {
  return logits[base + token] - logSumExp(logits, base, vocab);
}

/** Total probability of a set of tokens in one logits row (e.g. every end-of-sequence id). */
export function probabilityOf(logits: Float32Array, base: number, vocab: number, tokens: Iterable<number>): number {
  const lse = logSumExp(logits, base, vocab);
  let p = 0;
  for (const t of tokens) if (t >= 0 && t < vocab) p += Math.exp(logits[base + t] - lse);
  return Math.min(1, p);
}

/**
 * Where in a row's generation the model says "nothing was said", given the tokens chosen so far:
 * - auto-detected language: Qwen3-ASR writes `language None<asr_text>` for no speech, so the step right after
 *   the `language` token(s) gives P(None);
 * - then, at the first step after `<asr_text>` (or the first step at all when the language was forced, since
 *   the prompt already ends with `<asr_text>`), P(end of sequence) is the probability of an empty transcript.
 * The no-speech probability is the larger of the two: either path produces an empty transcript.
 */
export interface NoSpeechTokens {
  /** The ids of "language" (as the model writes it before the name); empty when unknown to the tokenizer. */
  languagePrefix: number[];
  /** The first id of " None"; undefined when the tokenizer has no such token. */
  noneId?: number;
  textStartId: number;
  eosIds: readonly number[];
}

/** The tokens whose probabilities the no-speech probe reads: every end-of-sequence id and " None". */
export const watchedTokens = (tokens: NoSpeechTokens): number[] => [...new Set([...tokens.eosIds, ...(tokens.noneId === undefined ? [] : [tokens.noneId])])];

/** Per-row state of the no-speech probe while decoding. */
export class NoSpeechProbe {
  private probability = 0;
  private textStarted: boolean;
  private done = false;

  constructor(
    private readonly tokens: NoSpeechTokens,
    forcedLanguage: boolean,
  ) {
    this.textStarted = forcedLanguage;
  }

  /** One step's logits row, with `generated` the ids chosen at the earlier steps (not yet this one's). */
  observe(logits: Float32Array, base: number, vocab: number, generated: readonly number[]): void {
    this.observeWith((ids) => probabilityOf(logits, base, vocab, ids), generated);
  }

  /**
   * The same from the probabilities of the watched tokens only (`watchedTokens()`), which is what graph
   * decoding reports per step instead of whole logits rows.
   */
  observeWith(probabilityOfTokens: (tokens: readonly number[]) => number, generated: readonly number[]): void {
    if (this.done) return;
    const { languagePrefix, noneId, eosIds, textStartId } = this.tokens;
    if (!this.textStarted) {
      // Ending before even naming a language is also "nothing to transcribe".
      if (generated.length === 0) this.raise(probabilityOfTokens(eosIds));
      const afterLanguage =
        languagePrefix.length > 0 && generated.length === languagePrefix.length && languagePrefix.every((id, i) => generated[i] === id);
      if (noneId !== undefined && afterLanguage) this.raise(probabilityOfTokens([noneId]));
      if (generated.at(-1) === textStartId) this.textStarted = true;
    }
    if (this.textStarted) {
      this.raise(probabilityOfTokens(eosIds));
      this.done = true;
    }
  }

  private raise(p: number): void {
    if (p > this.probability) this.probability = p;
  }

  get value(): number {
    return this.probability;
  }
}

/** Mean of the token log-probabilities (Whisper's `avg_logprob`); 0 for no tokens. */
export function meanLogprob(logprobs: readonly number[]): number {
  if (logprobs.length === 0) return 0;
  return logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
}

/** What a row's token log-probabilities say about its transcript and its language tag. */
export interface RowConfidence {
  /** Mean log-probability of the transcript's tokens and the end-of-sequence that closed it. */
  avgLogprob: number;
  /** Probability of the detected language's name (the tokens between `language` and `<asr_text>`); null when forced or absent. */
  languageProb: number | null;
}

export function rowConfidence(
  ids: readonly number[],
  logprobs: readonly number[],
  tokens: Pick<NoSpeechTokens, "languagePrefix" | "textStartId">,
  forcedLanguage: boolean,
): RowConfidence {
  if (forcedLanguage) return { avgLogprob: meanLogprob(logprobs), languageProb: null };
  const split = ids.indexOf(tokens.textStartId);
  if (split < 0) return { avgLogprob: meanLogprob(logprobs), languageProb: null };
  const prefix = tokens.languagePrefix;
  const hasPrefix = prefix.length > 0 && prefix.every((id, i) => ids[i] === id);
  const name = logprobs.slice(hasPrefix ? prefix.length : 0, split);
  const languageProb = hasPrefix && name.length > 0 ? Math.exp(name.reduce((a, b) => a + b, 0)) : null;
  return { avgLogprob: meanLogprob(logprobs.slice(split + 1)), languageProb };
}
