/**
 * Errors the API answers with: `{ "error": { "code", "message" } }` and the status that goes with the code.
 * Every refusal the service makes goes through one of these codes.
 */
export const API_ERRORS = {
  invalid_request: 400,
  invalid_json: 400,
  missing_file: 400,
  invalid_language: 400,
  invalid_webhook_url: 400,
  invalid_audio_url: 400,
  invalid_cursor: 400,
  invalid_idempotency_key: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  idempotency_key_in_use: 409,
  not_cancelable: 409,
  file_too_large: 413,
  payload_too_large: 413,
  unsupported_format: 415,
  unsupported_media_type: 415,
  undecodable_audio: 422,
  empty_audio: 422,
  audio_too_short: 422,
  audio_too_long: 422,
  invalid_samples: 422,
  unsupported_language: 422,
  too_many_channels: 422,
  unsupported_sample_rate: 422,
  audio_url_unreachable: 422,
  idempotency_key_reused: 409,
  transcript_not_ready: 409,
  transcript_unavailable: 409,
  transcript_deleted: 410,
  rate_limited: 429,
  quota_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: (typeof API_ERRORS)[ApiErrorCode];
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = API_ERRORS[code];
  }

  toJSON(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
