import type { ChunkPlanOptions } from "./chunk.js";

/**
 * Chunking for a model that declares the longest segment it handles well (config.json `max_segment_seconds`):
 * chunks are cut at pauses up to that length, as WhisperX merges VAD segments up to its chunk size, instead of
 * running to the service's `chunkSeconds` (30 s, right for real Qwen3-ASR). A model trained on single sentences
 * transcribes one sentence per chunk well, and several in one chunk badly.
 */
export function chunkingForModel(
  service: { chunkSeconds: number; overlapSeconds: number },
  modelMaxSegmentSeconds: number | undefined,
  defaults: Pick<ChunkPlanOptions, "cutSearchSeconds"> = { cutSearchSeconds: 5 },
): { chunkSeconds: number; overlapSeconds: number; cutSearchSeconds: number } {
  const chunkSeconds = Math.min(service.chunkSeconds, modelMaxSegmentSeconds ?? Infinity);
  const overlapSeconds = Math.min(service.overlapSeconds, chunkSeconds / 4);
  // The search for a pause must leave the chunk room to advance (the planner's own rule: overlap + search < chunk).
  const cutSearchSeconds = Math.min(defaults.cutSearchSeconds, Math.max(0.1, chunkSeconds - overlapSeconds - 0.5));
  return { chunkSeconds, overlapSeconds, cutSearchSeconds };
}
