/**
 * Merging chunk transcripts into one transcript with times in the original audio.
 *
 * Chunks that overlap in time (the planner's `in-speech` cuts) hear the same words twice. The tail of one chunk
 * and the head of the next are aligned on normalized words (dynamic programming that allows substitutions,
 * insertions and deletions), weighing each candidate overlap against how many words the chunk times put in it,
 * and the text switches from one chunk to the next at an agreed word near the middle of the overlap, where both
 * chunks had the most context. Chunks that do not overlap in time (cut in a pause, or silence skipped between
 * them) are concatenated: words repeated across such a seam were spoken twice and are kept.
 *
 * Times: the model gives none, so each chunk's words are spread over the chunk's time span in proportion to
 * their length in characters. Word and segment times are therefore estimates, good to a few seconds.
 */

export interface ChunkTranscript {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

export interface TimedText {
  start: number;
  end: number;
  text: string;
}

export interface TimedWord {
  word: string;
  start: number;
  end: number;
}

export interface MergedTranscript {
  text: string;
  segments: TimedText[];
  /** Estimated, see the module comment. */
  words: TimedWord[];
}

export interface MergeOptions {
  /**
   * `sentence` (default): a segment ends at sentence-final punctuation, before a gap of skipped silence, or
   * when it reaches `maxSegmentSeconds` — subtitle-sized cues. `chunk`: one segment per chunk, trimmed where
   * the merge switched chunks.
   */
  segmentation: "sentence" | "chunk";
  maxSegmentSeconds: number;
  /** A silence at least this long between chunks always ends a segment. */
  segmentGapSeconds: number;
}

export const defaultMergeOptions: Readonly<MergeOptions> = {
  segmentation: "sentence",
  maxSegmentSeconds: 15,
  segmentGapSeconds: 0.5,
};

export function mergeChunkTranscripts(
  chunks: readonly ChunkTranscript[],
  overrides: Partial<MergeOptions> = {},
): MergedTranscript {
  const options = { ...defaultMergeOptions, ...overrides };
  checkChunks(chunks);
  const tokenized = chunks.map((chunk) => tokenize(chunk.text));
  const times = chunks.map((chunk, c) => estimateWordTimes(chunk, tokenized[c]));
  const kept = keptRanges(chunks, tokenized, times);
  const stream = timedStream(tokenized, times, kept);
  return {
    text: joinTokens(stream.map((timed) => timed.token)),
    segments: segmentStream(stream, options).map(toTimedText),
    words: stream.map(({ token, start, end }) => ({ word: token.text, start, end })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Words

export interface Token {
  /** As written by the model. */
  text: string;
  /** Case-, width- and punctuation-insensitive form used for matching. */
  key: string;
  /** Written without a space before it (CJK characters inside a run). */
  joinsPrevious: boolean;
}

const cjk = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}";
/**
 * Whitespace-separated words; CJK is written without spaces (Qwen3-ASR's Chinese and Japanese output), so each
 * CJK character is a word of its own, with the punctuation that follows it.
 */
const tokenPattern = new RegExp(`[${cjk}][^\\s${cjk}\\p{L}\\p{N}]*|[^\\s${cjk}]+`, "gu");
const cjkCharacter = new RegExp(`[${cjk}]`, "u");

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(tokenPattern)) {
    const index = match.index;
    const joinsPrevious = tokens.length > 0 && index > 0 && !/\s/u.test(text[index - 1]);
    tokens.push({ text: match[0], key: normalizeWord(match[0]), joinsPrevious });
  }
  return tokens;
}

export function normalizeWord(word: string): string {
  const key = word.normalize("NFKC").toLowerCase().replace(/[\p{P}\p{S}]/gu, "");
  // A token of punctuation alone matches only itself.
  return key === "" ? word : key;
}

/** Tokens as text: a space between words, none inside CJK runs or between CJK characters across chunks. */
export function joinTokens(tokens: readonly Token[]): string {
  let text = "";
  tokens.forEach((token, i) => {
    if (i > 0 && !token.joinsPrevious) text += " ";
    text += token.text;
  });
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Overlap alignment

/** Where to switch from the earlier word list to the later one. */
export interface OverlapSplit {
  /** Words of the earlier list kept: [0, keepBefore). */
  keepBefore: number;
  /** Words of the later list dropped: [0, skipAfter). */
  skipAfter: number;
}

/** How many words each side should have in the overlap, estimated from the chunks' times. */
export interface ExpectedOverlap {
  before: number;
  after: number;
}

const matchScore = 2;
const substitutionCost = 1.5;
const gapCost = 1.5;
/**
 * Per word of difference from the expected overlap length, on each side. Below gapCost, so padding an overlap
 * with unmatched words never pays; twice it exceeds matchScore, so when repeated words ("no no no") make two
 * overlaps equally good as text, the one that fits the times wins.
 */
const lengthPenalty = 1.25;
/**
 * An overlap whose length penalty exceeds its score by this much is not taken: it is the only text match, but
 * far longer or shorter than the times allow (a repeated phrase near the seam, e.g. "the very the the" |
 * "mat very the" after "mat" was lost). Tuned on simulated seams; 3 rejects none of the true overlaps there.
 */
const implausibleBelow = -3;

/**
 * Aligns a suffix of `before` with a prefix of `after` (normalized words): words of `before` may precede the
 * overlap and words of `after` may follow it. Inside the overlap a match earns 2, and a substitution or a word
 * on one side only costs 1.5. Among overlaps scoring above 0, the best after the length penalty wins
 * (ties: the shortest). Undefined when none scores above 0 (no shared word, or too many edits for the
 * matches) or the times make every candidate implausible.
 * The split is at the match nearest the middle of the alignment, so each side loses its own edge words, where
 * the model had the least context.
 */
export function findOverlapSplit(
  before: readonly string[],
  after: readonly string[],
  expected?: ExpectedOverlap,
): OverlapSplit | undefined {
  let best: { start: number; end: number; objective: number } | undefined;
  // One alignment per start in `before`: the length penalty depends on it. Overlaps are a few words, so cheap.
  for (let start = before.length - 1; start >= 0; start--) {
    const table = alignmentTable(before.slice(start), after);
    for (let end = 1; end <= after.length; end++) {
      const score = table.scoreAt(before.length - start, end);
      if (score <= 0) continue;
      const penalty = expected
        ? lengthPenalty * (Math.abs(before.length - start - expected.before) + Math.abs(end - expected.after))
        : 0;
      const objective = score - penalty;
      if (objective > implausibleBelow && (best === undefined || objective > best.objective)) {
        best = { start, end, objective };
      }
    }
  }
  if (best === undefined) return undefined;
  const start = best.start;
  const columns = alignmentTable(before.slice(start), after.slice(0, best.end)).traceback();
  const middle = (columns.length - 1) / 2;
  let split: OverlapSplit | undefined;
  let bestDistance = Infinity;
  columns.forEach((column, position) => {
    if (column.isMatch && Math.abs(position - middle) < bestDistance) {
      bestDistance = Math.abs(position - middle);
      split = { keepBefore: start + column.before, skipAfter: column.after };
    }
  });
  return split;
}

interface AlignmentColumn {
  /** Words of each side up to and including this column. */
  before: number;
  after: number;
  isMatch: boolean;
}

interface AlignmentTable {
  /** Score of aligning a[0, i) with b[0, j). */
  scoreAt(i: number, j: number): number;
  /** The columns of the best alignment of all of `a` with all of `b`, in order. */
  traceback(): AlignmentColumn[];
}

/** Global alignment of `a` against `b` (every word of both aligned), scored as in findOverlapSplit. */
function alignmentTable(a: readonly string[], b: readonly string[]): AlignmentTable {
  const cols = b.length + 1;
  const score = new Float64Array((a.length + 1) * cols);
  const move = new Uint8Array((a.length + 1) * cols); // 1 diagonal, 2 word of a only, 3 word of b only
  for (let j = 1; j < cols; j++) [score[j], move[j]] = [-j * gapCost, 3];
  for (let i = 1; i <= a.length; i++) {
    [score[i * cols], move[i * cols]] = [-i * gapCost, 2];
    for (let j = 1; j < cols; j++) {
      const diagonal = score[(i - 1) * cols + j - 1] + (a[i - 1] === b[j - 1] ? matchScore : -substitutionCost);
      const up = score[(i - 1) * cols + j] - gapCost;
      const left = score[i * cols + j - 1] - gapCost;
      const at = i * cols + j;
      if (diagonal >= up && diagonal >= left) [score[at], move[at]] = [diagonal, 1];
      else if (up >= left) [score[at], move[at]] = [up, 2];
      else [score[at], move[at]] = [left, 3];
    }
  }
  return {
    scoreAt: (i, j) => score[i * cols + j],
    traceback: () => {
      const columns: AlignmentColumn[] = [];
      let i = a.length;
      let j = b.length;
      while (i > 0 || j > 0) {
        const m = move[i * cols + j];
        columns.push({ before: i, after: j, isMatch: m === 1 && a[i - 1] === b[j - 1] });
        if (m !== 3) i--;
        if (m !== 2) j--;
      }
      return columns.reverse();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Times

/** Estimated [start, end] of each word: the chunk's span shared out by characters (+1 for the gap after). */
interface WordTimes {
  starts: Float64Array;
  ends: Float64Array;
}

function estimateWordTimes(chunk: ChunkTranscript, tokens: readonly Token[]): WordTimes {
  const weights = tokens.map((token) => [...token.text].length + 1);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const secondsPerWeight = total > 0 ? (chunk.endSeconds - chunk.startSeconds) / total : 0;
  const starts = new Float64Array(tokens.length);
  const ends = new Float64Array(tokens.length);
  let offset = 0;
  weights.forEach((weight, t) => {
    starts[t] = chunk.startSeconds + offset * secondsPerWeight;
    offset += weight;
    ends[t] = chunk.startSeconds + offset * secondsPerWeight;
  });
  return { starts, ends };
}

/** How many of the words [from, to) fall inside [start, end], counting partly inside words fractionally. */
function wordsWithin(times: WordTimes, from: number, to: number, start: number, end: number): number {
  let count = 0;
  for (let t = from; t < to; t++) {
    const length = times.ends[t] - times.starts[t];
    const inside = Math.min(end, times.ends[t]) - Math.max(start, times.starts[t]);
    if (length > 0 && inside > 0) count += inside / length;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Seams

interface KeptRange {
  from: number;
  to: number;
}

/** For each chunk, the words that survive the seams on both sides. */
function keptRanges(
  chunks: readonly ChunkTranscript[],
  tokenized: readonly Token[][],
  times: readonly WordTimes[],
): KeptRange[] {
  const kept = tokenized.map((tokens) => ({ from: 0, to: tokens.length }));
  for (let c = 1; c < chunks.length; c++) {
    const overlapStart = chunks[c].startSeconds;
    const overlapEnd = chunks[c - 1].endSeconds;
    if (overlapEnd <= overlapStart) continue;
    const previous = kept[c - 1];
    const expected: ExpectedOverlap = {
      before: wordsWithin(times[c - 1], previous.from, previous.to, overlapStart, overlapEnd),
      after: wordsWithin(times[c], 0, tokenized[c].length, overlapStart, overlapEnd),
    };
    const beforeStart = previous.to - Math.min(previous.to - previous.from, searchedWords(expected.before));
    const afterEnd = Math.min(tokenized[c].length, searchedWords(expected.after));
    const split = findOverlapSplit(
      tokenized[c - 1].slice(beforeStart, previous.to).map((token) => token.key),
      tokenized[c].slice(0, afterEnd).map((token) => token.key),
      expected,
    );
    if (split === undefined) continue;
    previous.to = beforeStart + split.keepBefore;
    kept[c].from = split.skipAfter;
  }
  return kept;
}

/**
 * How many edge words to search for the overlap: twice the words the times predict, plus slack for uneven
 * speaking rates and the words a model inserts. Longer overlaps are ones the times contradict; searching them
 * lets repeated words far from the seam align ("the the and" | "and cat the the").
 */
function searchedWords(expectedWords: number): number {
  return Math.ceil(2 * expectedWords) + 2;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

interface TimedToken {
  token: Token;
  start: number;
  end: number;
  chunk: number;
}

/** Kept words in order with their estimated times, made monotonic across seams. */
function timedStream(
  tokenized: readonly Token[][],
  times: readonly WordTimes[],
  kept: readonly KeptRange[],
): TimedToken[] {
  const stream: TimedToken[] = [];
  kept.forEach(({ from, to }, c) => {
    for (let t = from; t < to; t++) {
      const previousEnd = stream.length > 0 ? stream[stream.length - 1].end : -Infinity;
      const start = Math.max(times[c].starts[t], previousEnd);
      const end = Math.max(times[c].ends[t], start);
      const token = t === 0 ? withSeamJoin(tokenized[c][t], stream) : tokenized[c][t];
      stream.push({ token, start, end, chunk: c });
    }
  });
  return stream;
}

/** A chunk's first word follows the text before it without a space only from one CJK character to another. */
function withSeamJoin(token: Token, stream: readonly TimedToken[]): Token {
  if (stream.length === 0) return token;
  const previous = stream[stream.length - 1].token.text;
  return { ...token, joinsPrevious: cjkCharacter.test(previous[0]) && cjkCharacter.test(token.text[0]) };
}

function segmentStream(stream: readonly TimedToken[], options: MergeOptions): TimedToken[][] {
  const segments: TimedToken[][] = [];
  let current: TimedToken[] = [];
  for (const timed of stream) {
    if (current.length > 0 && startsNewSegment(current, timed, options)) {
      segments.push(current);
      current = [];
    }
    current.push(timed);
  }
  if (current.length > 0) segments.push(current);
  return segments;
}

const sentenceEnd = /[.!?。！？…]["'”’»)\]」』]*$/u;

function startsNewSegment(current: readonly TimedToken[], next: TimedToken, options: MergeOptions): boolean {
  const last = current[current.length - 1];
  if (options.segmentation === "chunk") return next.chunk !== last.chunk;
  return (
    sentenceEnd.test(last.token.text) ||
    next.start - last.end >= options.segmentGapSeconds ||
    next.end - current[0].start > options.maxSegmentSeconds
  );
}

function toTimedText(segment: readonly TimedToken[]): TimedText {
  const tokens = segment.map((timed) => timed.token);
  return {
    start: segment[0].start,
    end: segment[segment.length - 1].end,
    text: joinTokens([{ ...tokens[0], joinsPrevious: false }, ...tokens.slice(1)]),
  };
}

function checkChunks(chunks: readonly ChunkTranscript[]): void {
  chunks.forEach((chunk, c) => {
    const valid =
      Number.isFinite(chunk.startSeconds) &&
      Number.isFinite(chunk.endSeconds) &&
      chunk.startSeconds >= 0 &&
      chunk.endSeconds >= chunk.startSeconds &&
      (c === 0 || chunk.startSeconds >= chunks[c - 1].startSeconds);
    if (!valid) throw new RangeError(`chunk ${c} has invalid or out-of-order times`);
  });
}
