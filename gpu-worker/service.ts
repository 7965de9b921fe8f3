import { sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import type { Job } from "../db/schema.js";
import { AudioError } from "../shared/audio-sniff.js";
import type { BlobStore } from "../shared/blob-store.js";
import type { ServiceConfig } from "../shared/config.js";
import { languageName } from "../shared/languages.js";
import type { Logger } from "../shared/logger.js";
import { billableSeconds } from "../shared/metering.js";
import { jobMessageSchema, type JobQueueReceiver, type ReceivedMessage } from "../shared/queue.js";
import { detectSpeechByEnergy, type AudioChunk, type SpeechDetector } from "./audio/chunk.js";
import { decodeJobAudio } from "./job-audio.js";
import { mergeChunkTranscripts } from "./audio/merge.js";
import { planJobChunks } from "./audio/plan-job.js";
import { chunkingForModel } from "./audio/segment-length.js";
import { Batcher, type BatchReport, type ChunkOutcome, type ChunkWork } from "./batcher.js";
import type { Qwen3AsrEngine } from "./engine/engine.js";
import type { MemoryProbe } from "./device-memory.js";
import { MessageLeases, type Lease } from "./leases.js";
import type { Adjustment, MemoryFeedback } from "./scheduler/memory-feedback.js";
import type { PlannerConfig } from "./scheduler/planner.js";
import { isNoSpeech, noSpeechThresholds } from "../shared/no-speech.js";
import { jobConfidence, segmentScores, type ScoredChunk } from "./transcript-confidence.js";
import { overallProgress, ProgressReporter } from "./job-progress.js";
import { claimJob, completeJob, failJob, finishedChunks, savePhase, saveChunk, saveProgress, setChunkPlan } from "./store.js";

interface ChunkResult {
  text: string;
  language: string;
  tokens: number;
  avgLogprob: number | null;
  noSpeechProb: number | null;
  languageProb: number | null;
  /** Judged to hold no speech (shared/no-speech.ts): its text is dropped, not written. */
  noSpeech: boolean;
}

/** A job this worker is transcribing. */
interface ActiveJob {
  job: Job;
  lease: Lease;
  chunks: AudioChunk[];
  results: Map<number, ChunkResult>;
  durationSeconds: number;
  forcedLanguage?: string;
  lastProgressWrite: number;
}

export interface WorkerDeps {
  db: Db;
  blobs: BlobStore;
  queue: JobQueueReceiver;
  engine: Qwen3AsrEngine;
  config: ServiceConfig;
  planner: PlannerConfig;
  logger: Logger;
  onBatch?: (report: BatchReport) => void;
  /** The memory feedback loop, the probe read after every batch for it, and a hook for each change it makes. */
  feedback?: MemoryFeedback;
  measureMemory?: MemoryProbe;
  onMemoryAdjustments?: (adjustments: Adjustment[]) => void;
  onJobFinished?: (job: Job) => void;
  /** A neural voice-activity detector for chunking; the built-in energy detector when absent. */
  speechDetector?: SpeechDetector;
}

const SAMPLE_RATE = 16000;

/**
 * The GPU worker: long-polls SQS into a local queue, claims jobs in Postgres, decodes and chunks audio, lets the
 * batcher run chunks of all jobs together, and completes each job (transcript + usage + webhook event) in one
 * transaction before deleting its message. Delivery is at least once; every write is idempotent.
 */
export class WorkerService {
  private readonly leases: MessageLeases;
  private readonly batcher: Batcher;
  private readonly active = new Map<string, ActiveJob>();
  private polling: Promise<void> | null = null;
  private running = false;
  private readonly abort = new AbortController();
  private capacityWaiter: (() => void) | null = null;
  private readonly intakes = new Set<Promise<void>>();
  /** False while Postgres cannot take results: receiving pauses rather than piling up work. */
  healthy = true;

  constructor(private readonly deps: WorkerDeps) {
    this.leases = new MessageLeases(deps.queue, deps.config.queue.visibilityTimeoutSeconds, deps.logger);
    this.batcher = new Batcher({
      engine: deps.engine,
      model: deps.engine.config,
      planner: deps.planner,
      logger: deps.logger,
      onOutcomes: (outcomes) => this.handleOutcomes(outcomes),
      onBatch: deps.onBatch,
      feedback: deps.feedback,
      measureMemory: deps.measureMemory,
      onAdjustments: deps.onMemoryAdjustments,
    });
  }

  get stats(): { activeJobs: number; queuedChunks: number; heldMessages: number } {
    return { activeJobs: this.active.size, queuedChunks: this.batcher.queued, heldMessages: this.leases.size };
  }

  start(): void {
    this.running = true;
    this.batcher.start();
    this.polling = this.poll();
  }

  /**
   * Graceful stop: no more receiving, the batch in flight finishes, messages of unfinished jobs are handed back
   * at once (visibility 0) so another worker takes them without waiting for the timeout.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.capacityWaiter?.();
    await this.polling?.catch(() => undefined);
    await Promise.allSettled([...this.intakes]);
    await this.batcher.stop();
    await Promise.allSettled([...this.active.values()].map((a) => this.leases.release(a.lease)));
    this.active.clear();
  }

  private async poll(): Promise<void> {
    const { config, queue, logger } = this.deps;
    while (this.running) {
      const room = config.queue.prefetch - this.leases.size - this.intakes.size;
      if (room <= 0 || !this.healthy) {
        await new Promise<void>((resolve) => {
          this.capacityWaiter = resolve;
          setTimeout(resolve, this.healthy ? 1000 : 2000).unref();
        });
        this.capacityWaiter = null;
        if (!this.healthy) await this.checkHealth();
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        // The lease length is ours, not the queue's default: extensions are timed against it.
        messages = await queue.receive(Math.min(10, room), config.queue.waitTimeSeconds, this.abort.signal, config.queue.visibilityTimeoutSeconds);
      } catch (error) {
        if (!this.running) break;
        logger.warn("receive failed", { error });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const message of messages) {
        const intake = this.intake(message).catch((error) => logger.error("intake failed", { error, messageId: message.messageId }));
        this.intakes.add(intake);
        void intake.finally(() => this.intakes.delete(intake));
      }
    }
  }

  private async checkHealth(): Promise<void> {
    try {
      await this.deps.db.execute(sql`select 1`);
      this.healthy = true;
      this.deps.logger.info("database reachable again; receiving resumes");
    } catch {
      // still down
    }
  }

  private markUnhealthy(error: unknown): void {
    if (this.healthy) this.deps.logger.warn("database unavailable; pausing receives", { error });
    this.healthy = false;
  }

  private wakePoller(): void {
    this.capacityWaiter?.();
  }

  /** One SQS message → a claimed, decoded, chunked job whose chunks wait in the batcher. */
  private async intake(message: ReceivedMessage): Promise<void> {
    const { db, queue, blobs, config, logger, engine } = this.deps;
    let body: unknown;
    try {
      body = JSON.parse(message.body);
    } catch {
      body = null;
    }
    const parsed = jobMessageSchema.safeParse(body);
    if (!parsed.success) {
      // Poison: no job to fail. Handed back at once; after maxReceiveCount SQS moves it to the dead-letter queue.
      logger.warn("malformed message", { messageId: message.messageId, receiveCount: message.receiveCount });
      await queue.setVisibility(message.receiptHandle, 0);
      return;
    }
    const { jobId } = parsed.data;
    if (this.active.has(jobId)) {
      // A duplicate delivery of a job already running here: the running one will finish it.
      await queue.delete(message.receiptHandle);
      return;
    }
    let claim;
    try {
      claim = await claimJob(db, jobId, config.sweeper.maxAttempts);
    } catch (error) {
      this.markUnhealthy(error);
      return; // the message reappears after its visibility timeout
    }
    if (claim.kind === "unknown") {
      logger.warn("message for an unknown job", { jobId, receiveCount: message.receiveCount });
      await queue.setVisibility(message.receiptHandle, 0);
      return;
    }
    if (claim.kind !== "claimed") {
      logger.info("job already finished; message acknowledged", { jobId, status: claim.job.status });
      await queue.delete(message.receiptHandle);
      if (claim.kind === "exhausted") this.deps.onJobFinished?.(claim.job);
      return;
    }
    const job = claim.job;
    const lease = this.leases.hold(message, jobId);
    const log = logger.child({ jobId });
    // Progress from the first second: the phase is written as soon as it starts, decoding reports as it goes.
    const progress = new ProgressReporter(
      (update) => savePhase(db, job.id, update.phase, update.progress).catch((error: unknown) => log.warn("progress write failed", { error })),
      config.worker.progressIntervalMs,
    );
    try {
      await progress.report("fetching", 0);
      const bytes = job.audioKey ? await blobs.get(job.audioKey) : null;
      if (!bytes) {
        await this.fail(job.id, lease, "audio_missing", "the uploaded audio is no longer in storage");
        return;
      }
      // The file was checked (and its seconds reserved against the quota) when the job was made: one replaced
      // since (a second PUT to a bucket's upload URL) is not what was accepted, and is neither run nor billed.
      if (bytes.length !== job.audioBytes) {
        await this.fail(job.id, lease, "audio_changed", `the stored audio is ${bytes.length} bytes, not the ${job.audioBytes} bytes checked when the job was created`);
        return;
      }
      await progress.report("decoding", 0);
      const decoded = await decodeJobAudio(bytes, config.limits, (fraction) => void progress.report("decoding", fraction));
      await progress.report("decoding", 1, { force: true });
      let forcedLanguage: string | undefined;
      if (job.language) {
        forcedLanguage = languageName(job.language) ?? undefined;
        const supported = engine.config.qwen3_asr.supported_languages;
        if (!forcedLanguage || !(forcedLanguage in engine.config.language_suffix_ids) || (supported.length > 0 && !supported.includes(forcedLanguage))) {
          const list = supported.length > 0 ? `; supported: ${supported.join(", ")}` : "";
          await this.fail(job.id, lease, "unsupported_language", `the model does not support language ${job.language}${list}`);
          return;
        }
      }
      const chunks = await this.plan(decoded.pcm);
      const context = job.prompt ?? undefined;
      const contextTokens = engine.contextTokens(context);
      const active: ActiveJob = {
        job,
        lease,
        chunks,
        results: new Map(),
        durationSeconds: decoded.durationSeconds,
        forcedLanguage,
        lastProgressWrite: 0,
      };
      for (const done of await finishedChunks(db, job.id)) {
        if (done.chunkIndex < chunks.length) {
          active.results.set(done.chunkIndex, {
            text: done.text,
            language: done.language ?? "",
            tokens: done.tokenCount ?? 0,
            avgLogprob: done.avgLogprob,
            noSpeechProb: done.noSpeechProb,
            languageProb: done.languageProb,
            noSpeech: done.text === "" && done.noSpeechProb !== null,
          });
        }
      }
      await setChunkPlan(db, job.id, chunks.length, active.results.size, overallProgress("transcribing", this.progressOf(active)));
      this.active.set(job.id, active);
      log.info("job started", { chunks: chunks.length, resumed: active.results.size, durationSeconds: decoded.durationSeconds, attempt: job.attempts });
      if (active.results.size === chunks.length) {
        await this.finish(active);
        return;
      }
      const now = Date.now();
      this.batcher.add(
        chunks
          .filter((c) => !active.results.has(c.index))
          .map((c): ChunkWork => {
            const pcm = decoded.pcm.subarray(c.startSample, c.endSample);
            return {
              id: `${job.id}#${c.index}`,
              jobId: job.id,
              chunkIndex: c.index,
              pcm,
              frames: Math.floor(pcm.length / engine.config.hop_length),
              arrivalMs: now,
              forcedLanguage,
              ...(context ? { context, contextTokens } : {}),
            };
          }),
      );
    } catch (error) {
      this.active.delete(job.id);
      if (error instanceof AudioError) {
        await this.fail(job.id, lease, error.code, error.message);
      } else {
        log.error("job intake failed; the message will be redelivered", { error });
        this.leases.forget(lease);
        if ((error as { code?: string }).code && String((error as { code?: string }).code).startsWith("E")) this.markUnhealthy(error);
      }
    }
  }

  /** Short audio is one chunk, untouched; long audio is cut at pauses with silence skipped (planJobChunks). */
  private async plan(pcm: Float32Array): Promise<AudioChunk[]> {
    // A model may handle shorter segments best (config.json max_segment_seconds): cut at pauses up to that.
    const segment = chunkingForModel(this.deps.config.chunking, this.deps.engine.config.max_segment_seconds);
    const speech = this.deps.speechDetector
      ? await this.deps.speechDetector.detect(pcm, SAMPLE_RATE)
      : detectSpeechByEnergy(pcm, SAMPLE_RATE);
    return planJobChunks(pcm, SAMPLE_RATE, speech, { ...this.deps.config.chunking, ...segment });
  }

  private progressOf(active: ActiveJob): number {
    if (active.chunks.length === 0) return 1;
    const total = active.chunks.reduce((s, c) => s + (c.endSeconds - c.startSeconds), 0);
    const done = active.chunks.filter((c) => active.results.has(c.index)).reduce((s, c) => s + (c.endSeconds - c.startSeconds), 0);
    return total > 0 ? done / total : 1;
  }

  private async handleOutcomes(outcomes: ChunkOutcome[]): Promise<void> {
    const { db, config, logger } = this.deps;
    for (const outcome of outcomes) {
      const active = this.active.get(outcome.work.jobId);
      if (!active) continue;
      if (!outcome.ok) {
        this.batcher.drop(active.job.id);
        this.active.delete(active.job.id);
        if (outcome.permanent) await this.fail(active.job.id, active.lease, outcome.code, outcome.message);
        else {
          logger.warn("chunk failed; job handed back for retry", { jobId: active.job.id, code: outcome.code, message: outcome.message });
          await this.leases.release(active.lease).catch(() => undefined);
        }
        this.wakePoller();
        continue;
      }
      const chunk = active.chunks[outcome.work.chunkIndex];
      if (outcome.result.finishReason === "length") {
        // Continued to the hard bound without an end token: the model is repeating itself, not speaking.
        logger.warn("chunk cut at the hard token bound", { jobId: active.job.id, chunk: chunk.index, tokens: outcome.result.tokens.generated, continuations: outcome.result.continuations });
      }
      const r = outcome.result;
      // Text the model wrote without hearing speech (noise, music) is invented: drop it, keep the scores.
      const noSpeech = isNoSpeech(r, noSpeechThresholds(this.deps.engine.config));
      const result: ChunkResult = {
        text: noSpeech ? "" : r.text,
        language: noSpeech ? "" : r.language,
        tokens: r.tokens.generated,
        avgLogprob: r.avgLogprob,
        noSpeechProb: r.noSpeechProb,
        languageProb: r.languageProb,
        noSpeech,
      };
      try {
        await saveChunk(db, {
          jobId: active.job.id,
          chunkIndex: chunk.index,
          startSeconds: chunk.startSeconds,
          endSeconds: chunk.endSeconds,
          text: result.text,
          language: result.language || null,
          tokenCount: result.tokens,
          avgLogprob: result.avgLogprob,
          noSpeechProb: result.noSpeechProb,
          languageProb: result.languageProb,
        });
        active.results.set(chunk.index, result);
        const now = Date.now();
        if (active.results.size < active.chunks.length && now - active.lastProgressWrite >= config.worker.progressIntervalMs) {
          active.lastProgressWrite = now;
          const status = await saveProgress(db, active.job.id, active.results.size, overallProgress("transcribing", this.progressOf(active)));
          if (status !== "processing") {
            logger.info("job no longer processing; dropping its work", { jobId: active.job.id, status });
            this.batcher.drop(active.job.id);
            this.active.delete(active.job.id);
            await this.leases.ack(active.lease);
            this.wakePoller();
            continue;
          }
        }
        if (active.results.size === active.chunks.length) await this.finish(active);
      } catch (error) {
        this.markUnhealthy(error);
        this.batcher.drop(active.job.id);
        this.active.delete(active.job.id);
        this.leases.forget(active.lease);
      }
    }
  }

  private async finish(active: ActiveJob): Promise<void> {
    const { db, config, logger } = this.deps;
    const ordered = active.chunks.map((c) => ({ chunk: c, result: active.results.get(c.index) as ChunkResult }));
    const merged = mergeChunkTranscripts(ordered.map(({ chunk, result }) => ({ startSeconds: chunk.startSeconds, endSeconds: chunk.endSeconds, text: result.text })));
    const language = active.forcedLanguage ?? majority(ordered.map((o) => o.result.language).filter(Boolean));
    const scored: ScoredChunk[] = ordered.map(({ chunk, result }) => ({ ...chunk, ...result }));
    const confidence = jobConfidence(scored, language || null, active.forcedLanguage !== undefined);
    // No speech (nothing for the model, or nothing it heard): an empty transcript that is marked so and not
    // billed. A job with speech is never completed empty unmarked.
    const noSpeech = merged.text.trim() === "";
    const job = await completeJob(db, active.job.id, {
      noSpeech,
      text: noSpeech ? "" : merged.text,
      segments: noSpeech ? [] : merged.segments.map((s, id) => ({ id, start: round3(s.start), end: round3(s.end), text: s.text, ...segmentScores(s, scored) })),
      language: language || null,
      avgLogprob: confidence.avgLogprob,
      languageProbability: confidence.languageProbability,
      durationSeconds: active.durationSeconds,
      billableSeconds: noSpeech ? 0 : billableSeconds(active.durationSeconds, config.metering.minimumBillableSeconds),
    });
    this.active.delete(active.job.id);
    await this.leases.ack(active.lease);
    this.wakePoller();
    if (job) {
      logger.info("job completed", { jobId: job.id, durationSeconds: active.durationSeconds, chunks: active.chunks.length, noSpeech });
      this.deps.onJobFinished?.(job);
    } else {
      logger.info("job was already finished elsewhere; nothing written", { jobId: active.job.id });
    }
  }

  private async fail(jobId: string, lease: Lease, code: string, message: string): Promise<void> {
    const job = await failJob(this.deps.db, jobId, code, message);
    await this.leases.ack(lease);
    this.wakePoller();
    this.deps.logger.warn("job failed", { jobId, code, message });
    if (job) this.deps.onJobFinished?.(job);
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function majority(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = "";
  let bestCount = 0;
  for (const [v, n] of counts) if (n > bestCount) [best, bestCount] = [v, n];
  return best;
}
