/** Stable codes: the worker maps them to job errors, tests match on them. */
export type EngineErrorCode =
  | "model_dir_missing"
  | "model_file_missing"
  | "invalid_model_config"
  | "invalid_model_graph"
  | "invalid_tokenizer"
  | "empty_audio"
  | "invalid_samples"
  | "audio_too_short"
  | "audio_too_long"
  | "unsupported_language"
  | "sequence_too_long";

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EngineError";
  }
}
