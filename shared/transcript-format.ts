/**
 * Transcript renderings: plain text, SRT, WebVTT, and OpenAI's `json` and `verbose_json` bodies
 * (design/edge-and-api.md, "OpenAI-compatible transcription endpoint"). Pure; runs on Node and Workers.
 */

export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
  /** The model's mean token log-probability over the segment; absent or null when not scored. */
  avg_logprob?: number | null;
  /** The model's probability that the segment's audio holds no speech; absent or null when not scored. */
  no_speech_prob?: number | null;
}

export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
}

export interface Transcript {
  text: string;
  segments: readonly TranscriptSegment[];
  /** As detected or forced, e.g. "English"; null when unknown. */
  language: string | null;
  durationSeconds: number;
  /** Estimated word times, when the caller has them. */
  words?: readonly TranscriptWord[];
}

/** `txt` is an alias of OpenAI's `text`. */
export type TranscriptFormat = "text" | "txt" | "srt" | "vtt" | "json" | "verbose_json";

export interface RenderOptions {
  /** verbose_json only: add `words` (OpenAI's `timestamp_granularities[]=word`). */
  includeWords?: boolean;
}

export interface RenderedTranscript {
  body: string;
  /** The OpenAI SDK parses by content type: text formats are text/plain, JSON is application/json. */
  contentType: "text/plain; charset=utf-8" | "application/json";
}

export function renderTranscript(
  transcript: Transcript,
  format: TranscriptFormat,
  options: RenderOptions = {},
): RenderedTranscript {
  switch (format) {
    case "text":
    case "txt":
      return plain(renderText(transcript));
    case "srt":
      return plain(renderSrt(transcript));
    case "vtt":
      return plain(renderVtt(transcript));
    case "json":
      return json(renderJson(transcript));
    case "verbose_json":
      return json(renderVerboseJson(transcript, options));
  }
}

export function renderText(transcript: Transcript): string {
  const text = transcript.text.trim();
  return text === "" ? "" : `${text}\n`;
}

/** SRT: 1-based cue numbers, `HH:MM:SS,mmm`, a blank line after each cue. Empty transcript → empty file. */
export function renderSrt(transcript: Transcript): string {
  return cues(transcript.segments, srtCueText)
    .map((cue, i) => `${i + 1}\n${timestamp(cue.startMs, ",")} --> ${timestamp(cue.endMs, ",")}\n${cue.text}\n\n`)
    .join("");
}

/** WebVTT: `WEBVTT` header, `HH:MM:SS.mmm`, cue text escaped. Empty transcript → header only. */
export function renderVtt(transcript: Transcript): string {
  const body = cues(transcript.segments, vttCueText)
    .map((cue, i) => `${i + 1}\n${timestamp(cue.startMs, ".")} --> ${timestamp(cue.endMs, ".")}\n${cue.text}\n\n`)
    .join("");
  return `WEBVTT\n\n${body}`;
}

export interface OpenAiJson {
  text: string;
  usage: { type: "duration"; seconds: number };
}

/** OpenAI `json`; usage seconds are whole seconds, rounded up as OpenAI bills them. */
export function renderJson(transcript: Transcript): string {
  const body: OpenAiJson = {
    text: transcript.text,
    usage: { type: "duration", seconds: Math.ceil(Math.max(0, transcript.durationSeconds)) },
  };
  return JSON.stringify(body);
}

export interface VerboseJsonSegment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
}

export interface VerboseJson {
  task: "transcribe";
  language: string;
  duration: number;
  text: string;
  segments: VerboseJsonSegment[];
  words?: TranscriptWord[];
  /** With `words`: they are spread over each segment by length, not aligned to the audio. */
  word_timestamps?: "estimated";
}

/**
 * OpenAI `verbose_json`:
 * - `avg_logprob` and `no_speech_prob` are the model's own (mean log-probability of the tokens it chose; its
 *   probability of "language None" or of ending at once), as the worker scored them per segment. A segment
 *   stored before scoring existed gets the neutral 0 and 0;
 * - `seek`: the segment start in Whisper's 10 ms frames (Whisper gives its window offset there);
 * - `tokens`: [] (token ids are not carried this far);
 * - `temperature`: 0 (decoding is greedy, so this one is true);
 * - `compression_ratio`: 1, a value Whisper's heuristic (> 2.4) reads as "nothing suspicious".
 * Language is the model's name for it lowercased ("English" → "english"), as OpenAI writes it.
 */
export function verboseJson(transcript: Transcript, options: RenderOptions = {}): VerboseJson {
  const body: VerboseJson = {
    task: "transcribe",
    language: (transcript.language ?? "").toLowerCase(),
    duration: roundMs(Math.max(0, transcript.durationSeconds)),
    text: transcript.text,
    segments: transcript.segments.map((segment, id) => ({
      id,
      seek: Math.round(Math.max(0, segment.start) * 100),
      start: roundMs(segment.start),
      end: roundMs(segment.end),
      text: segment.text,
      tokens: [],
      temperature: 0,
      avg_logprob: segment.avg_logprob ?? 0,
      compression_ratio: 1,
      no_speech_prob: segment.no_speech_prob ?? 0,
    })),
  };
  if (options.includeWords) {
    body.words = (transcript.words ?? []).map((w) => ({ word: w.word, start: roundMs(w.start), end: roundMs(w.end) }));
    body.word_timestamps = "estimated";
  }
  return body;
}

export function renderVerboseJson(transcript: Transcript, options: RenderOptions = {}): string {
  return JSON.stringify(verboseJson(transcript, options));
}

// ---------------------------------------------------------------------------------------------------------------

interface Cue {
  startMs: number;
  endMs: number;
  text: string;
}

/**
 * Segments as cues: text on one line (a blank line would end the cue early), empty cues dropped (they would
 * read as a missing text block), at least 1 ms long (validators reject end ≤ start) and in order.
 */
function cues(segments: readonly TranscriptSegment[], cueText: (text: string) => string): Cue[] {
  const out: Cue[] = [];
  for (const segment of segments) {
    const text = cueText(segment.text.replace(/\s+/gu, " ").trim());
    if (text === "") continue;
    // Never before the previous cue's end: a 0 ms segment stretched to 1 ms must not overlap the next one.
    const startMs = Math.max(toMs(segment.start), out.at(-1)?.endMs ?? 0);
    out.push({ startMs, endMs: Math.max(toMs(segment.end), startMs + 1), text });
  }
  return out;
}

/**
 * SRT has no escaping, and a text line containing `-->` can be taken for a timing line, so arrows are shortened
 * to `->` (the whole dash run, so `--->` leaves no `-->` behind).
 */
function srtCueText(text: string): string {
  return text.replace(/-{2,}>/gu, "->");
}

/** WebVTT cue text is markup: `&`, `<` and `>` are escaped, which also makes `-->` harmless. */
function vttCueText(text: string): string {
  return text.replace(/&/gu, "&amp;").replace(/</gu, "&lt;").replace(/>/gu, "&gt;");
}

function toMs(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new RangeError(`segment time is not finite: ${seconds}`);
  return Math.max(0, Math.round(seconds * 1000));
}

/** `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT); hours grow past two digits when they need to. */
export function timestamp(totalMs: number, separator: "," | "."): string {
  const ms = totalMs % 1000;
  const totalSeconds = Math.floor(totalMs / 1000);
  const seconds = totalSeconds % 60;
  const minutes = Math.floor(totalSeconds / 60) % 60;
  const hours = Math.floor(totalSeconds / 3600);
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}${separator}${pad(ms, 3)}`;
}

function pad(value: number, digits: number): string {
  return String(value).padStart(digits, "0");
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function plain(body: string): RenderedTranscript {
  return { body, contentType: "text/plain; charset=utf-8" };
}

function json(body: string): RenderedTranscript {
  return { body, contentType: "application/json" };
}
