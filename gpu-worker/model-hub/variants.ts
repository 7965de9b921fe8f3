/**
 * What the graphs' inputs and outputs do not say about a real Qwen3-ASR: the architecture numbers the memory
 * model counts (attention heads, MLP and audio-encoder sizes) and the fixed token ids, per published size. From
 * Qwen/Qwen3-ASR-{0.6B,1.7B} config.json (design/qwen3-asr-model.md S2; the same numbers as
 * test/fixtures/configs). The adapter checks the graph's own dimensions against them.
 */
const common = {
  sample_rate: 16000,
  n_fft: 400,
  n_mels: 128,
  audio_token_id: 151676,
  audio_start_token_id: 151669,
  audio_end_token_id: 151670,
  im_start_token_id: 151644,
  im_end_token_id: 151645,
  endoftext_token_id: 151643,
  tokens_per_chunk: 13,
  window_tokens: 104,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 128,
  vocab_size: 151936,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
};

export const QWEN3_ASR_VARIANTS = {
  "qwen3-asr-0.6b": {
    ...common,
    variant: "qwen3-asr-0.6b",
    hidden_size: 1024,
    intermediate_size: 3072,
    audio_encoder: { num_mel_bins: 128, d_model: 896, encoder_layers: 18, encoder_attention_heads: 14, encoder_ffn_dim: 3584, downsample_hidden_size: 480, output_dim: 1024, max_source_positions: 1500 },
  },
  "qwen3-asr-1.7b": {
    ...common,
    variant: "qwen3-asr-1.7b",
    hidden_size: 2048,
    intermediate_size: 6144,
    audio_encoder: { num_mel_bins: 128, d_model: 1024, encoder_layers: 24, encoder_attention_heads: 16, encoder_ffn_dim: 4096, downsample_hidden_size: 480, output_dim: 2048, max_source_positions: 1500 },
  },
} as const;

/** Qwen3's context: the limit the engine checks prompt + generation against (not onnx-asr's 512-token generation cap). */
export const QWEN3_MAX_SEQUENCE_LENGTH = 65536;
/** Frames per engine call: long audio is chunked before it gets here (20 min, as the official backend allows). */
export const QWEN3_MAX_FRAMES = 120000;

export function variantForHiddenSize(hidden: number): (typeof QWEN3_ASR_VARIANTS)[keyof typeof QWEN3_ASR_VARIANTS] | undefined {
  return Object.values(QWEN3_ASR_VARIANTS).find((v) => v.hidden_size === hidden);
}
