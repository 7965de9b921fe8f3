import { relations, sql, type SQL } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  unique,
  uuid,
  type AnyPgColumn,
} from "drizzle-orm/pg-core";

// Every timestamp is an instant: timestamptz, read and written as a JS Date.
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

// Statuses are text + CHECK rather than pgEnum: drizzle-kit writes enum types as "public"."…",
// which would escape a per-test schema, and adding a value later is a plain constraint swap.
function oneOf(column: AnyPgColumn, values: readonly string[]): SQL {
  return sql`${column} in (${sql.raw(values.map((value) => `'${value}'`).join(", "))})`;
}

export const jobStatuses = ["queued", "processing", "completed", "failed", "canceled"] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** What a processing job is doing now; its progress fraction runs through them in this order. */
export const jobPhases = ["fetching", "decoding", "transcribing"] as const;
export type JobPhase = (typeof jobPhases)[number];

export const webhookDeliveryStatuses = ["pending", "delivering", "succeeded", "failed", "gave_up"] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/** One piece of a transcript with times in seconds from the start of the audio. */
export interface TranscriptSegment {
  id: number;
  start: number;
  end: number;
  text: string;
  [extra: string]: unknown;
}

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    keyPrefix: text("key_prefix").notNull(),
    // sha-256 hex of the whole key; the key itself is shown once and never stored.
    keyHash: text("key_hash").notNull().unique(),
    webhookSecret: text("webhook_secret").notNull(),
    // null: use the default from config.
    rateLimitPerMinute: integer("rate_limit_per_minute"),
    monthlyAudioSecondsQuota: integer("monthly_audio_seconds_quota"),
    // Web origins whose pages may call the API with this key's browser tokens (besides the configured ones).
    allowedOrigins: text("allowed_origins").array().notNull().default(sql`'{}'::text[]`),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    revokedAt: timestamptz("revoked_at"),
  },
  (t) => [
    check("api_keys_key_hash_sha256", sql`${t.keyHash} ~ '^[0-9a-f]{64}$'`),
    check("api_keys_webhook_secret_format", sql`${t.webhookSecret} like 'whsec\\_%'`),
    check("api_keys_rate_limit_positive", sql`${t.rateLimitPerMinute} > 0`),
    check("api_keys_quota_non_negative", sql`${t.monthlyAudioSecondsQuota} >= 0`),
  ],
);

export const jobs = pgTable(
  "jobs",
  {
    // App-generated, prefixed ("tr_…"), so ids are readable in logs and URLs.
    id: text("id").primaryKey(),
    // Keys are revoked, never deleted: their jobs and bills stay.
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "restrict" }),
    status: text("status", { enum: jobStatuses }).notNull().default("queued"),
    // Blob storage key; null once the audio has been deleted.
    audioKey: text("audio_key"),
    audioBytes: bigint("audio_bytes", { mode: "number" }).notNull(),
    contentType: text("content_type").notNull(),
    filename: text("filename"),
    durationSeconds: doublePrecision("duration_seconds"),
    language: text("language"),
    detectedLanguage: text("detected_language"),
    prompt: text("prompt"),
    webhookUrl: text("webhook_url"),
    attempts: integer("attempts").notNull().default(0),
    progress: real("progress").notNull().default(0),
    // Set while processing; null before (queued). Kept after the job finishes: the last phase reached.
    phase: text("phase", { enum: jobPhases }),
    // Set on completion: true when the audio held no speech (empty text, not billed).
    noSpeech: boolean("no_speech"),
    chunksTotal: integer("chunks_total"),
    chunksDone: integer("chunks_done").notNull().default(0),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    // Hash of the audio and parameters: finds a duplicate upload and checks an idempotent replay.
    requestHash: text("request_hash"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at")
      .notNull()
      .defaultNow()
      .$onUpdateFn(() => new Date()),
    startedAt: timestamptz("started_at"),
    completedAt: timestamptz("completed_at"),
    canceledAt: timestamptz("canceled_at"),
  },
  (t) => [
    // Listing newest first per key, with (created_at, id) as the keyset cursor. NULLS FIRST is what a plain
    // `order by … desc` means; drizzle-kit would otherwise write NULLS LAST and the index would not match.
    index("jobs_api_key_created_idx").on(t.apiKeyId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // The sweeper looks for jobs stuck in a status since long ago.
    index("jobs_status_updated_idx").on(t.status, t.updatedAt),
    index("jobs_api_key_request_hash_idx").on(t.apiKeyId, t.requestHash),
    check("jobs_status_valid", oneOf(t.status, jobStatuses)),
    check("jobs_audio_bytes_non_negative", sql`${t.audioBytes} >= 0`),
    check("jobs_duration_non_negative", sql`${t.durationSeconds} >= 0`),
    check("jobs_attempts_non_negative", sql`${t.attempts} >= 0`),
    check("jobs_progress_fraction", sql`${t.progress} between 0 and 1`),
    check("jobs_phase_valid", oneOf(t.phase, jobPhases)),
    check(
      "jobs_chunks_in_range",
      sql`${t.chunksDone} >= 0 and (${t.chunksTotal} is null or ${t.chunksDone} <= ${t.chunksTotal})`,
    ),
  ],
);

// Results of the chunks of long audio, so a redelivered job skips the chunks already done.
export const jobChunks = pgTable(
  "job_chunks",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    chunkIndex: integer("chunk_index").notNull(),
    startSeconds: doublePrecision("start_seconds").notNull(),
    endSeconds: doublePrecision("end_seconds").notNull(),
    text: text("text").notNull(),
    language: text("language"),
    tokenCount: integer("token_count"),
    // The model's confidence in this chunk (null for chunks saved before it was recorded).
    avgLogprob: real("avg_logprob"),
    noSpeechProb: real("no_speech_prob"),
    languageProb: real("language_prob"),
    completedAt: timestamptz("completed_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.chunkIndex] }),
    check("job_chunks_index_non_negative", sql`${t.chunkIndex} >= 0`),
    check("job_chunks_time_order", sql`${t.startSeconds} >= 0 and ${t.endSeconds} >= ${t.startSeconds}`),
  ],
);

export const transcripts = pgTable("transcripts", {
  jobId: text("job_id")
    .primaryKey()
    .references(() => jobs.id, { onDelete: "cascade" }),
  text: text("text").notNull(),
  segments: jsonb("segments").$type<TranscriptSegment[]>().notNull().default([]),
  language: text("language"),
  // Job-level confidence: mean token log-probability over the transcript, the detected language's probability.
  avgLogprob: real("avg_logprob"),
  languageProbability: real("language_probability"),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
});

// What is billed: one row per job, so a redelivered job can never bill twice.
export const usageRecords = pgTable(
  "usage_records",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    // Bills outlive nothing they point at: deleting a billed job or key is refused.
    jobId: text("job_id")
      .notNull()
      .unique()
      .references(() => jobs.id, { onDelete: "restrict" }),
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "restrict" }),
    billableSeconds: integer("billable_seconds").notNull(),
    audioSeconds: doublePrecision("audio_seconds").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    index("usage_records_api_key_created_idx").on(t.apiKeyId, t.createdAt),
    check("usage_records_billable_non_negative", sql`${t.billableSeconds} >= 0`),
    check("usage_records_audio_non_negative", sql`${t.audioSeconds} >= 0`),
  ],
);

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    eventType: text("event_type").notNull(),
    // The `webhook-id` header: the same on every retry so receivers can dedupe.
    messageId: text("message_id").notNull().unique(),
    url: text("url").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: webhookDeliveryStatuses }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamptz("next_attempt_at").notNull().defaultNow(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at")
      .notNull()
      .defaultNow()
      .$onUpdateFn(() => new Date()),
  },
  (t) => [
    // An event is enqueued once per job, however often the job is redelivered.
    unique("webhook_deliveries_job_event_unique").on(t.jobId, t.eventType),
    index("webhook_deliveries_status_next_attempt_idx").on(t.status, t.nextAttemptAt),
    check("webhook_deliveries_status_valid", oneOf(t.status, webhookDeliveryStatuses)),
    check("webhook_deliveries_attempts_non_negative", sql`${t.attempts} >= 0`),
  ],
);

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    deliveryId: uuid("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attemptedAt: timestamptz("attempted_at").notNull().defaultNow(),
    // null when no response came back (timeout, refused connection).
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.deliveryId, t.attemptedAt)],
);

// The first response per caller and Idempotency-Key, replayed for later requests with that key.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    jobId: text("job_id").references(() => jobs.id, { onDelete: "set null" }),
    // null while the first request is still in flight (a replay then answers 409).
    responseStatus: integer("response_status"),
    responseBody: jsonb("response_body").$type<unknown>(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    expiresAt: timestamptz("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.apiKeyId, t.key] }),
    index("idempotency_keys_expires_idx").on(t.expiresAt),
    check("idempotency_keys_key_length", sql`char_length(${t.key}) between 1 and 255`),
  ],
);

// Transactional outbox: the queue message is written in the job's transaction and sent afterwards.
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    sentAt: timestamptz("sent_at"),
    attempts: integer("attempts").notNull().default(0),
  },
  (t) => [index("outbox_unsent_idx").on(t.id).where(sql`${t.sentAt} is null`)],
);

// Fixed-window request counters shared by every edge isolate.
export const rateLimitWindows = pgTable(
  "rate_limit_windows",
  {
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    windowStart: timestamptz("window_start").notNull(),
    // Requests that change something (and everything not GET/HEAD): the key's rate_limit_per_minute.
    requestCount: integer("request_count").notNull().default(0),
    // GET and HEAD (polling, listing, downloads): their own, larger budget (rateLimits.readsPerMinute).
    readCount: integer("read_count").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.apiKeyId, t.windowStart] }),
    // Old windows are purged by start time.
    index("rate_limit_windows_start_idx").on(t.windowStart),
  ],
);

export const apiKeysRelations = relations(apiKeys, ({ many }) => ({
  jobs: many(jobs),
  usageRecords: many(usageRecords),
}));

export const jobsRelations = relations(jobs, ({ one, many }) => ({
  apiKey: one(apiKeys, { fields: [jobs.apiKeyId], references: [apiKeys.id] }),
  transcript: one(transcripts),
  chunks: many(jobChunks),
  usageRecord: one(usageRecords),
  webhookDeliveries: many(webhookDeliveries),
}));

export const jobChunksRelations = relations(jobChunks, ({ one }) => ({
  job: one(jobs, { fields: [jobChunks.jobId], references: [jobs.id] }),
}));

export const transcriptsRelations = relations(transcripts, ({ one }) => ({
  job: one(jobs, { fields: [transcripts.jobId], references: [jobs.id] }),
}));

export const usageRecordsRelations = relations(usageRecords, ({ one }) => ({
  job: one(jobs, { fields: [usageRecords.jobId], references: [jobs.id] }),
  apiKey: one(apiKeys, { fields: [usageRecords.apiKeyId], references: [apiKeys.id] }),
}));

export const webhookDeliveriesRelations = relations(webhookDeliveries, ({ one, many }) => ({
  job: one(jobs, { fields: [webhookDeliveries.jobId], references: [jobs.id] }),
  attempts: many(webhookAttempts),
}));

export const webhookAttemptsRelations = relations(webhookAttempts, ({ one }) => ({
  delivery: one(webhookDeliveries, { fields: [webhookAttempts.deliveryId], references: [webhookDeliveries.id] }),
}));

export type ApiKey = typeof apiKeys.$inferSelect;
export type NewApiKey = typeof apiKeys.$inferInsert;
export type Job = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
export type JobChunk = typeof jobChunks.$inferSelect;
export type NewJobChunk = typeof jobChunks.$inferInsert;
export type Transcript = typeof transcripts.$inferSelect;
export type NewTranscript = typeof transcripts.$inferInsert;
export type UsageRecord = typeof usageRecords.$inferSelect;
export type NewUsageRecord = typeof usageRecords.$inferInsert;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
export type NewWebhookDelivery = typeof webhookDeliveries.$inferInsert;
export type WebhookAttempt = typeof webhookAttempts.$inferSelect;
export type NewWebhookAttempt = typeof webhookAttempts.$inferInsert;
export type IdempotencyKey = typeof idempotencyKeys.$inferSelect;
export type NewIdempotencyKey = typeof idempotencyKeys.$inferInsert;
export type OutboxMessage = typeof outbox.$inferSelect;
export type NewOutboxMessage = typeof outbox.$inferInsert;
export type RateLimitWindow = typeof rateLimitWindows.$inferSelect;
export type NewRateLimitWindow = typeof rateLimitWindows.$inferInsert;

// One row per GPU worker, rewritten every few seconds: its settings and a sliding window of recent samples
// (shared/worker-sample.ts), so an edge anywhere (Node or Workers) can chart them and derive recommendations.
export const workerHeartbeats = pgTable(
  "worker_heartbeats",
  {
    workerId: text("worker_id").primaryKey(),
    hostname: text("hostname").notNull(),
    executionProvider: text("execution_provider").notNull(),
    budgetBytes: bigint("budget_bytes", { mode: "number" }).notNull(),
    safetyMargin: real("safety_margin").notNull(),
    maxBatch: integer("max_batch").notNull(),
    samples: jsonb("samples").$type<import("../shared/worker-sample.js").WorkerSample[]>().notNull().default([]),
    startedAt: timestamptz("started_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
    // Set on a graceful stop; a row that stops updating without it belongs to a worker that died.
    stoppedAt: timestamptz("stopped_at"),
    // Set by the first heartbeat after a stop signal: a worker silent after this was stopping, not crashing
    // (its last write, stopped_at, may not land before the process exits).
    stoppingSince: timestamptz("stopping_since"),
  },
  (t) => [
    index("worker_heartbeats_updated_idx").on(t.updatedAt),
    check("worker_heartbeats_budget_positive", sql`${t.budgetBytes} > 0`),
  ],
);

export type WorkerHeartbeat = typeof workerHeartbeats.$inferSelect;
export type NewWorkerHeartbeat = typeof workerHeartbeats.$inferInsert;

// Short-lived tokens a key's backend hands to a web page (POST /v1/tokens): they act for the key, under its rate
// limit and quota, but only on what they made themselves (browser_token_grants).
export const browserTokens = pgTable(
  "browser_tokens",
  {
    // "btk_…": what the key's owner revokes; the token itself ("bt_…") is shown once and stored as a hash.
    id: text("id").primaryKey(),
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    // The only origin requests with this token may come from; null: any origin allowed for the key.
    origin: text("origin"),
    expiresAt: timestamptz("expires_at").notNull(),
    revokedAt: timestamptz("revoked_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    index("browser_tokens_api_key_idx").on(t.apiKeyId),
    check("browser_tokens_token_hash_sha256", sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

// What a browser token made (upload ids "up_…", job ids "tr_…"): the only resources it may use or read.
export const browserTokenGrants = pgTable(
  "browser_token_grants",
  {
    tokenId: text("token_id")
      .notNull()
      .references(() => browserTokens.id, { onDelete: "cascade" }),
    resourceId: text("resource_id").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.resourceId] })],
);

export type BrowserToken = typeof browserTokens.$inferSelect;
export type NewBrowserToken = typeof browserTokens.$inferInsert;

// Direct uploads (POST /v1/uploads): each URL takes one PUT, for one key, until it expires, and makes one job.
// Rows of uploads never used are swept with their blobs once expired.
export const uploads = pgTable(
  "uploads",
  {
    // "up_…", as the API shows it.
    id: text("id").primaryKey(),
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    blobKey: text("blob_key").notNull(),
    maxBytes: bigint("max_bytes", { mode: "number" }).notNull(),
    expiresAt: timestamptz("expires_at").notNull(),
    // Set when a PUT is let in (cleared again if it fails): a second PUT finds it set and is refused.
    receivedAt: timestamptz("received_at"),
    receivedBytes: bigint("received_bytes", { mode: "number" }),
    // Set in the transaction that inserts the job made from it.
    jobId: text("job_id").references(() => jobs.id, { onDelete: "set null" }),
    usedAt: timestamptz("used_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    index("uploads_unused_expires_idx").on(t.expiresAt).where(sql`${t.usedAt} is null`),
    check("uploads_max_bytes_positive", sql`${t.maxBytes} > 0`),
  ],
);
export type Upload = typeof uploads.$inferSelect;
