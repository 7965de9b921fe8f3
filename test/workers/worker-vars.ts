/**
 * The Worker's variables in the workerd tests (vitest.workers.config.ts binds them), shared with the tests
 * that check what these limits refuse. Plain data: this module is loaded by Node and by workerd.
 */
export const workerTestVars = {
  MAX_UPLOAD_BYTES: "1000000",
  MAX_DURATION_SECONDS: "60",
  UPLOAD_MAX_BYTES: "4000000",
  UPLOAD_URL_TTL_SECONDS: "600",
  // Presigned PUTs are signed for this endpoint; miniflare has no S3 API, so tests put objects through the binding.
  R2_S3_ENDPOINT: "https://test-account.r2.cloudflarestorage.com",
  R2_BUCKET_NAME: "qwen3-asr-uploads",
  R2_ACCESS_KEY_ID: "test-r2-access-key",
  R2_SECRET_ACCESS_KEY: "test-r2-secret-key",
  ADMIN_TOKEN: "test-admin-token",
  LOG_LEVEL: "warn",
  CORS_ORIGINS: "https://app.example",
};
