import { z } from "zod";

/**
 * The model directory's config.json (gpu-worker/engine/README.md, "config.json"). Every dimension and token id
 * the engine and the memory model use comes from here; nothing about a model size is hard-coded elsewhere.
 */
const tokenIds = z.array(z.number().int().nonnegative());
const positiveInt = z.number().int().positive();

export const audioEncoderConfigSchema = z.object({
  num_mel_bins: positiveInt,
  d_model: positiveInt,
  encoder_layers: positiveInt,
  encoder_attention_heads: positiveInt,
  encoder_ffn_dim: positiveInt,
  downsample_hidden_size: positiveInt,
  output_dim: positiveInt,
  max_source_positions: positiveInt,
});

/**
 * How the graphs store weights (tools/qwen3_asr/precision.py): float32; float16 (half weights *and* half
 * compute/I/O); int8 / int4 (weight-only com.microsoft.MatMulNBits, block-wise scales, float32 compute/I/O);
 * bfloat16 for exports made elsewhere.
 */
export const weightsDtypeSchema = z.enum(["float32", "float16", "bfloat16", "int8", "int4"]);
export type WeightsDtype = z.infer<typeof weightsDtypeSchema>;

export const tensorDtypeSchema = z.enum(["float32", "float16"]);
export type TensorDtype = z.infer<typeof tensorDtypeSchema>;

/** Bytes of the constants each graph holds once loaded, as written by the converter. */
export const graphWeightBytesSchema = z.object({
  encoder: z.number().int().nonnegative(),
  embed_tokens: z.number().int().nonnegative(),
  decoder: z.number().int().nonnegative(),
  /** generate.onnx: the decoder's weights, plus the embedding table when lm_head is quantized. */
  generate: z.number().int().nonnegative().optional(),
});

export const modelConfigSchema = z
  .object({
    model_type: z.literal("speech-llm"),
    features_size: positiveInt,
    hop_length: positiveInt,
    n_window: positiveInt,
    n_window_infer: positiveInt,
    max_frames: positiveInt,
    eos_token_ids: tokenIds.min(1),
    max_sequence_length: positiveInt,
    tokenizer_type: z.string(),
    text_start_token_id: z.number().int().nonnegative(),
    prompt_prefix_ids: tokenIds.min(1),
    prompt_suffix_ids: tokenIds.min(1),
    language_suffix_ids: z.record(z.string(), tokenIds),
    /**
     * Our addition: when a clip counts as holding no speech (shared/no-speech.ts). Log-probability scales differ
     * between models, so a model calibrated with `npm run bench:no-speech` states its own thresholds here.
     */
    no_speech: z.object({ no_speech_prob: z.number().min(0).max(1), avg_logprob: z.number().max(0) }).optional(),
    /** Our addition: the longest chunk (seconds) this model transcribes well; the chunker cuts at pauses up to it. */
    max_segment_seconds: z.number().positive().optional(),
    qwen3_asr: z.object({
      variant: z.string(),
      sample_rate: positiveInt,
      n_fft: positiveInt,
      n_mels: positiveInt,
      audio_token_id: z.number().int().nonnegative(),
      audio_start_token_id: z.number().int().nonnegative(),
      audio_end_token_id: z.number().int().nonnegative(),
      im_start_token_id: z.number().int().nonnegative().optional(),
      im_end_token_id: z.number().int().nonnegative().optional(),
      endoftext_token_id: z.number().int().nonnegative().optional(),
      tokens_per_chunk: positiveInt,
      window_tokens: positiveInt,
      hidden_size: positiveInt,
      num_hidden_layers: positiveInt,
      num_attention_heads: positiveInt,
      num_key_value_heads: positiveInt,
      head_dim: positiveInt,
      intermediate_size: positiveInt,
      vocab_size: positiveInt,
      rope_theta: z.number().positive(),
      rms_norm_eps: z.number().positive(),
      tie_word_embeddings: z.boolean(),
      /** dtype of every float input and output of the three graphs. */
      io_dtype: tensorDtypeSchema,
      /** dtype of past_key_values / present; older configs lack it and mean io_dtype. */
      kv_dtype: tensorDtypeSchema.optional(),
      weights_dtype: weightsDtypeSchema,
      weight_bytes: graphWeightBytesSchema.optional(),
      /** K values per scale of the int8/int4 MatMulNBits weights. */
      quant_block_size: positiveInt.optional(),
      supported_languages: z.array(z.string()).default([]),
      audio_encoder: audioEncoderConfigSchema,
    }),
  })
  .superRefine((c, ctx) => {
    const q = c.qwen3_asr;
    const problem = (message: string, path: (string | number)[]) => ctx.addIssue({ code: "custom", message, path });
    if (q.n_mels !== c.features_size || q.audio_encoder.num_mel_bins !== c.features_size) {
      problem("features_size, qwen3_asr.n_mels and audio_encoder.num_mel_bins must agree", ["features_size"]);
    }
    if (q.num_attention_heads % q.num_key_value_heads !== 0) {
      problem("num_attention_heads must be a multiple of num_key_value_heads", ["qwen3_asr", "num_key_value_heads"]);
    }
    if (q.audio_encoder.output_dim !== q.hidden_size) {
      problem("audio_encoder.output_dim must equal the decoder hidden_size", ["qwen3_asr", "audio_encoder", "output_dim"]);
    }
    if (q.audio_encoder.d_model % q.audio_encoder.encoder_attention_heads !== 0) {
      problem("audio d_model must be a multiple of encoder_attention_heads", ["qwen3_asr", "audio_encoder"]);
    }
    if (c.n_window_infer % (2 * c.n_window) !== 0) {
      problem("n_window_infer must be a multiple of the chunk (2 * n_window)", ["n_window_infer"]);
    }
    if (q.n_fft < c.hop_length) problem("n_fft must be at least hop_length", ["qwen3_asr", "n_fft"]);
    const ids: [string, number[]][] = [
      ["eos_token_ids", c.eos_token_ids],
      ["prompt_prefix_ids", c.prompt_prefix_ids],
      ["prompt_suffix_ids", c.prompt_suffix_ids],
      ["text_start_token_id", [c.text_start_token_id]],
      ...Object.entries(c.language_suffix_ids).map(([k, v]): [string, number[]] => [`language_suffix_ids.${k}`, v]),
    ];
    for (const [name, list] of ids) {
      if (list.some((id) => id >= q.vocab_size)) problem(`${name} has an id >= vocab_size ${q.vocab_size}`, [name]);
    }
  });

export type ModelConfig = z.infer<typeof modelConfigSchema>;

/** Frames per encoder chunk (100 for Qwen3-ASR). */
export const chunkFrames = (c: ModelConfig): number => 2 * c.n_window;

/** Output length of the encoder's three stride-2, kernel-3, padding-1 convolutions. */
export function convOutLength(frames: number): number {
  let n = frames;
  for (let i = 0; i < 3; i++) n = Math.floor((n - 1) / 2) + 1;
  return n;
}

/** A(F): audio tokens for F feature frames (the official `_get_feat_extract_output_lengths`). */
export function audioTokenCount(c: ModelConfig, frames: number): number {
  const chunk = chunkFrames(c);
  const rem = frames % chunk;
  return c.qwen3_asr.tokens_per_chunk * Math.floor(frames / chunk) + (rem > 0 ? convOutLength(rem) : 0);
}

/** Feature frames for a clip of `samples` samples (one frame per hop, the last partial hop dropped). */
export const frameCount = (c: ModelConfig, samples: number): number => Math.floor(samples / c.hop_length);
