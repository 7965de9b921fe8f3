import { wordEdits } from "../../shared/wer.js";
import { seededRandom } from "../../shared/seeded-random.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  findOverlapSplit,
  mergeChunkTranscripts,
  normalizeWord,
  tokenize,
  type ChunkTranscript,
  type MergedTranscript,
} from "../../gpu-worker/audio/merge.js";

// ---------------------------------------------------------------------------------------------------------------
// A simulated long recording: reference words with times, cut into chunks that repeat k words at each seam.

interface ReferenceWord {
  word: string;
  start: number;
  end: number;
}

interface ChunkPlan {
  newWords: number;
  overlapWords: number;
  /** Seeds the casing and punctuation this chunk writes its words with. */
  styleSeed: number;
}

type EditKind = "substitute" | "drop" | "insert";

interface SeamEdit {
  side: "before" | "after";
  kind: EditKind;
  /** Position inside the overlap, reduced modulo its size. */
  position: number;
  word: string;
}

/** The words of one simulated chunk: reference indices [from, to). */
interface SimulatedChunk {
  from: number;
  to: number;
  words: string[];
}

/** Few words, so repetitions ("the the", "and the and") land on seams often. */
const smallVocabulary = ["the", "a", "cat", "sat", "on", "mat", "and", "dog", "ran", "very", "fast", "hello", "it"];
const strangers = ["xyzzy", "plugh", "quux"];

const timedEntryArbitrary = fc.record({
  centiseconds: fc.integer({ min: 10, max: 80 }),
  gapCentiseconds: fc.integer({ min: 0, max: 30 }),
});

function toReference(
  entries: ReadonlyArray<{ word: string; centiseconds: number; gapCentiseconds: number }>,
): ReferenceWord[] {
  let time = 0.5;
  return entries.map(({ word, centiseconds, gapCentiseconds }): ReferenceWord => {
    const start = time;
    time += centiseconds / 100;
    const end = time;
    time += gapCentiseconds / 100;
    return { word, start, end };
  });
}

const repetitiveReferenceArbitrary = fc
  .array(fc.tuple(fc.constantFrom(...smallVocabulary), timedEntryArbitrary), { minLength: 1, maxLength: 150 })
  .map((entries) => toReference(entries.map(([word, timing]) => ({ word, ...timing }))));

/** Every word different, as in most speech over the span of an overlap. */
const distinctReferenceArbitrary = fc
  .array(timedEntryArbitrary, { minLength: 1, maxLength: 150 })
  .map((entries) => toReference(entries.map((timing, i) => ({ word: `word${i}`, ...timing }))));

const chunkPlanArbitrary = fc.array(
  fc.record({
    newWords: fc.integer({ min: 1, max: 30 }),
    overlapWords: fc.integer({ min: 0, max: 8 }),
    styleSeed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  }),
  { minLength: 1, maxLength: 20 },
);

function editsArbitrary(words: readonly string[]) {
  const edit = fc.record({
    side: fc.constantFrom<"before" | "after">("before", "after"),
    kind: fc.constantFrom<EditKind>("substitute", "drop", "insert"),
    position: fc.nat(20),
    word: fc.constantFrom(...words),
  });
  return fc.array(fc.option(edit, { freq: 2 }), { minLength: 1, maxLength: 20 });
}

/**
 * Chunk i holds reference words [from_i, to_i); the next chunk starts overlapWords before to_i. Overlaps never
 * reach back over two seams (as with 30 s chunks and 1 s overlap), so overlapWords ≤ the chunk's new words.
 */
function simulateChunks(reference: readonly ReferenceWord[], plans: readonly ChunkPlan[]): SimulatedChunk[] {
  const chunks: SimulatedChunk[] = [];
  let to = 0;
  let overlap = 0;
  for (let p = 0; to < reference.length; p++) {
    const plan = plans[Math.min(p, plans.length - 1)];
    const isLastPlan = p >= plans.length - 1;
    const from = to - overlap;
    const newWords = isLastPlan ? reference.length - to : Math.min(plan.newWords, reference.length - to);
    to += newWords;
    const random = seededRandom(plan.styleSeed);
    const words = reference.slice(from, to).map((w) => styled(w.word, random));
    chunks.push({ from, to, words });
    overlap = Math.min(plan.overlapWords, newWords);
  }
  return chunks;
}

interface AppliedEdits {
  count: number;
  /** Seams whose edit wrote a word already spoken near the overlap. */
  echoingSeams: Set<number>;
}

/** Applies at most one edit per seam inside its overlap. */
function applySeamEdits(
  reference: readonly ReferenceWord[],
  chunks: SimulatedChunk[],
  edits: ReadonlyArray<SeamEdit | null>,
): AppliedEdits {
  const applied: AppliedEdits = { count: 0, echoingSeams: new Set() };
  // Tail edits first, so head indices stay valid in chunks with both.
  for (let seam = chunks.length - 2; seam >= 0; seam--) {
    const edit = edits[seam % Math.max(1, edits.length)];
    const overlap = chunks[seam].to - chunks[seam + 1].from;
    if (!edit || overlap === 0) continue;
    const chunk = edit.side === "before" ? chunks[seam] : chunks[seam + 1];
    const headStart = edit.side === "before" ? chunk.words.length - overlap : 0;
    const index = headStart + (edit.position % (overlap + (edit.kind === "insert" ? 1 : 0)));
    const original = chunk.words[index];
    let written: string | undefined;
    if (edit.kind === "substitute") {
      written = normalizeWord(edit.word) === normalizeWord(original) ? "plover" : edit.word;
      chunk.words[index] = written;
    } else if (edit.kind === "drop") {
      chunk.words.splice(index, 1);
    } else {
      written = edit.word;
      chunk.words.splice(index, 0, written);
    }
    applied.count++;
    const nearby = nearbyWords(reference, chunks[seam + 1].from, chunks[seam].to);
    if (written !== undefined && nearby.includes(written)) applied.echoingSeams.add(seam);
  }
  return applied;
}

function toTranscripts(reference: readonly ReferenceWord[], chunks: readonly SimulatedChunk[]): ChunkTranscript[] {
  return chunks.map((chunk) => ({
    startSeconds: reference[chunk.from].start,
    endSeconds: reference[chunk.to - 1].end,
    text: chunk.words.join(" "),
  }));
}

function styled(word: string, random: () => number): string {
  const cased = random() < 0.2 ? word[0].toUpperCase() + word.slice(1) : word;
  const r = random();
  return r < 0.1 ? `${cased},` : r < 0.15 ? `${cased}.` : r < 0.18 ? `"${cased}?"` : cased;
}


const ambiguityRadius = 4;

/** Reference words within ambiguityRadius of the overlap [from, to), the overlap included. */
function nearbyWords(reference: readonly ReferenceWord[], from: number, to: number): string[] {
  return reference.slice(Math.max(0, from - ambiguityRadius), to + ambiguityRadius).map((w) => w.word);
}

/**
 * Overlapping seams where text alone cannot place the overlap: a word repeats within ambiguityRadius words of
 * it (in the reference, or because an edit wrote a word spoken nearby).
 */
function ambiguousSeams(
  reference: readonly ReferenceWord[],
  chunks: readonly SimulatedChunk[],
  echoingSeams: ReadonlySet<number> = new Set(),
): number {
  let count = 0;
  for (let seam = 0; seam + 1 < chunks.length; seam++) {
    const nearby = nearbyWords(reference, chunks[seam + 1].from, chunks[seam].to);
    const overlaps = chunks[seam].to > chunks[seam + 1].from;
    if (overlaps && (new Set(nearby).size < nearby.length || echoingSeams.has(seam))) count++;
  }
  return count;
}

function wordErrors(reference: readonly ReferenceWord[], merged: MergedTranscript): number {
  return wordEdits(
    reference.map((w) => w.word),
    wordKeys(merged.text),
  );
}

function wordKeys(text: string): string[] {
  return tokenize(text).map((token) => token.key);
}


function expectWellFormedTimes(merged: MergedTranscript, chunks: readonly ChunkTranscript[]): void {
  const first = chunks[0]?.startSeconds ?? 0;
  const last = chunks[chunks.length - 1]?.endSeconds ?? 0;
  let previousEnd = first;
  for (const item of [...merged.segments]) {
    expect(item.start).toBeGreaterThanOrEqual(previousEnd - 1e-9);
    expect(item.end).toBeGreaterThanOrEqual(item.start);
    expect(item.end).toBeLessThanOrEqual(last + 1e-9);
    expect(item.text.trim()).not.toBe("");
    previousEnd = item.end;
  }
  previousEnd = first;
  for (const word of merged.words) {
    expect(word.start).toBeGreaterThanOrEqual(previousEnd - 1e-9);
    expect(word.end).toBeGreaterThanOrEqual(word.start);
    previousEnd = word.end;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe("mergeChunkTranscripts, properties", () => {
  it("loses and repeats no word when the chunks agree at every seam", () => {
    fc.assert(
      fc.property(distinctReferenceArbitrary, chunkPlanArbitrary, (reference, plans) => {
        const transcripts = toTranscripts(reference, simulateChunks(reference, plans));
        const merged = mergeChunkTranscripts(transcripts);
        expect(wordKeys(merged.text)).toEqual(reference.map((w) => w.word));
        expect(merged.words.map((w) => normalizeWord(w.word))).toEqual(reference.map((w) => w.word));
        expectWellFormedTimes(merged, transcripts);
      }),
      { numRuns: 500 },
    );
  });

  it("makes at most one word error per word edited at the seams, so never duplicates an overlap", () => {
    fc.assert(
      fc.property(distinctReferenceArbitrary, chunkPlanArbitrary, editsArbitrary(strangers), (ref, plans, edits) => {
        const chunks = simulateChunks(ref, plans);
        const edited = applySeamEdits(ref, chunks, edits);
        const merged = mergeChunkTranscripts(toTranscripts(ref, chunks));
        expect(wordErrors(ref, merged)).toBeLessThanOrEqual(edited.count);
      }),
      { numRuns: 1000 },
    );
  });

  // With repeated words near a seam the text alone is ambiguous: "and" | "the and" is a dropped copy of the
  // overlap in "the and the and" but an inserted "the" before a duplicated "and" in "the and". The merger then
  // leans on word times estimated from the chunk spans, which can be off by a repetition period ("dog the dog
  // the": two words). With 13 words most seams are ambiguous, so these bound the damage to two words a seam:
  // no seam duplicates or loses its whole overlap (up to 8 words here).
  it("errs at most twice per ambiguous seam when the chunks agree, with a small repetitive vocabulary", () => {
    fc.assert(
      fc.property(repetitiveReferenceArbitrary, chunkPlanArbitrary, (ref, plans) => {
        const chunks = simulateChunks(ref, plans);
        const transcripts = toTranscripts(ref, chunks);
        const merged = mergeChunkTranscripts(transcripts);
        expect(wordErrors(ref, merged)).toBeLessThanOrEqual(2 * ambiguousSeams(ref, chunks));
        expectWellFormedTimes(merged, transcripts);
      }),
      { numRuns: 1000 },
    );
  });

  it("makes at most two errors per edit and per ambiguous seam, with a small repetitive vocabulary", () => {
    const vocabulary = [...smallVocabulary, ...strangers];
    fc.assert(
      fc.property(repetitiveReferenceArbitrary, chunkPlanArbitrary, editsArbitrary(vocabulary), (ref, plans, edits) => {
        const chunks = simulateChunks(ref, plans);
        const edited = applySeamEdits(ref, chunks, edits);
        const merged = mergeChunkTranscripts(toTranscripts(ref, chunks));
        const ambiguous = ambiguousSeams(ref, chunks, edited.echoingSeams);
        expect(wordErrors(ref, merged)).toBeLessThanOrEqual(2 * (edited.count + ambiguous));
      }),
      { numRuns: 1000 },
    );
  });

  it("segments cover the chunks in order, in both segmentations", () => {
    fc.assert(
      fc.property(
        repetitiveReferenceArbitrary,
        chunkPlanArbitrary,
        fc.constantFrom<"sentence" | "chunk">("sentence", "chunk"),
        (ref, plans, segmentation) => {
          const transcripts = toTranscripts(ref, simulateChunks(ref, plans));
          const merged = mergeChunkTranscripts(transcripts, { segmentation });
          expectWellFormedTimes(merged, transcripts);
          expect(merged.segments.map((s) => s.text).join(" ")).toBe(merged.text);
          expect(merged.segments[0].start).toBeCloseTo(transcripts[0].startSeconds, 9);
          expect(merged.segments[merged.segments.length - 1].end).toBeCloseTo(
            transcripts[transcripts.length - 1].endSeconds,
            9,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("mergeChunkTranscripts, examples", () => {
  it("drops the words heard twice and keeps the original spelling", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 3, text: "Hello there, General Kenobi." },
      { startSeconds: 2, endSeconds: 6, text: "general Kenobi! You are a bold one." },
    ]);
    expect(merged.text).toBe("Hello there, General Kenobi! You are a bold one.");
  });

  it("resolves a disagreement in the overlap without duplicating it", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 10, text: "we went down to the river bank" },
      { startSeconds: 8.5, endSeconds: 20, text: "to the liver bank and sat there" },
    ]);
    const words = merged.text.split(" ");
    expect(words.slice(0, 5)).toEqual(["we", "went", "down", "to", "the"]);
    expect(words.slice(-4)).toEqual(["bank", "and", "sat", "there"]);
    expect(words).toHaveLength(10);
  });

  it("concatenates chunks that do not overlap in time, keeping spoken repetitions", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 2, text: "I said no" },
      { startSeconds: 2, endSeconds: 3, text: "no no" },
    ]);
    expect(merged.text).toBe("I said no no no");
  });

  it("concatenates when an overlap shares no word", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 5, text: "first part ends" },
      { startSeconds: 4, endSeconds: 9, text: "second part begins" },
    ]);
    expect(merged.text).toBe("first part ends second part begins");
  });

  it("aligns Chinese, which is written without spaces, character by character", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 3, text: "今天天气很好，我们" },
      { startSeconds: 2.5, endSeconds: 5, text: "我们去公园吧。" },
    ]);
    expect(merged.text).toBe("今天天气很好，我们去公园吧。");
  });

  it("joins Chinese chunks cut in a pause without a space, and Latin ones with one", () => {
    expect(
      mergeChunkTranscripts([
        { startSeconds: 0, endSeconds: 3, text: "你好。" },
        { startSeconds: 3, endSeconds: 5, text: "再见。" },
      ]).text,
    ).toBe("你好。再见。");
    expect(
      mergeChunkTranscripts([
        { startSeconds: 0, endSeconds: 3, text: "我说 hello" },
        { startSeconds: 3, endSeconds: 5, text: "world" },
      ]).text,
    ).toBe("我说 hello world");
  });

  it("handles no chunks and empty chunk texts", () => {
    expect(mergeChunkTranscripts([])).toEqual({ text: "", segments: [], words: [] });
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 30, text: "" },
      { startSeconds: 29, endSeconds: 40, text: "  only this  " },
      { startSeconds: 39, endSeconds: 45, text: "" },
    ]);
    expect(merged.text).toBe("only this");
    expect(merged.segments).toEqual([{ start: 29, end: 40, text: "only this" }]);
  });

  it("splits segments at sentence ends and at skipped silence, estimating times from word lengths", () => {
    const merged = mergeChunkTranscripts([
      { startSeconds: 0, endSeconds: 4, text: "One two. Three four" },
      { startSeconds: 10, endSeconds: 12, text: "five six." },
    ]);
    expect(merged.segments.map((s) => s.text)).toEqual(["One two.", "Three four", "five six."]);
    // Weights are characters + 1: "One"4 "two."5 "Three"6 "four"5 → 20 per 4 s.
    expect(merged.segments[0]).toMatchObject({ start: 0, end: 1.8 });
    expect(merged.segments[1]).toMatchObject({ start: 1.8, end: 4 });
    expect(merged.segments[2]).toMatchObject({ start: 10, end: 12 });
  });

  it("caps sentence segments at maxSegmentSeconds", () => {
    const text = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const merged = mergeChunkTranscripts([{ startSeconds: 0, endSeconds: 30, text }], { maxSegmentSeconds: 10 });
    expect(merged.segments.length).toBeGreaterThanOrEqual(3);
    for (const segment of merged.segments) expect(segment.end - segment.start).toBeLessThanOrEqual(10 + 1e-9);
  });

  it("gives one segment per chunk in chunk segmentation, trimmed where the merge switched chunks", () => {
    const merged = mergeChunkTranscripts(
      [
        { startSeconds: 0, endSeconds: 10, text: "aaa bbb ccc ddd eee" },
        { startSeconds: 8, endSeconds: 18, text: "ddd eee fff ggg hhh" },
      ],
      { segmentation: "chunk" },
    );
    expect(merged.text).toBe("aaa bbb ccc ddd eee fff ggg hhh");
    expect(merged.segments).toHaveLength(2);
    expect(merged.segments[0].start).toBe(0);
    expect(merged.segments[1].end).toBe(18);
    expect(merged.segments[0].end).toBeLessThanOrEqual(merged.segments[1].start);
  });

  it("rejects chunks with invalid or out-of-order times", () => {
    expect(() => mergeChunkTranscripts([{ startSeconds: 2, endSeconds: 1, text: "x" }])).toThrow(RangeError);
    expect(() =>
      mergeChunkTranscripts([
        { startSeconds: 5, endSeconds: 6, text: "x" },
        { startSeconds: 1, endSeconds: 2, text: "y" },
      ]),
    ).toThrow(RangeError);
    expect(() => mergeChunkTranscripts([{ startSeconds: Number.NaN, endSeconds: 1, text: "x" }])).toThrow(RangeError);
  });
});

describe("findOverlapSplit", () => {
  it("splits an exact overlap at its middle", () => {
    expect(findOverlapSplit(["a", "b", "c", "d"], ["c", "d", "e"])).toEqual({ keepBefore: 3, skipAfter: 1 });
  });

  it("finds no overlap without shared words or with more edits than matches allow", () => {
    expect(findOverlapSplit(["a", "b"], ["c", "d"])).toBeUndefined();
    expect(findOverlapSplit(["a", "x", "y"], ["a", "p", "q"])).toBeUndefined();
    expect(findOverlapSplit([], ["a"])).toBeUndefined();
    expect(findOverlapSplit(["a"], [])).toBeUndefined();
  });

  it("tolerates a partial word at either edge", () => {
    // "bo" is the end of the first chunk cut mid-word; "at" the start of the next one cut mid-word.
    expect(findOverlapSplit(["a", "big", "red", "bo"], ["at", "big", "red", "boat", "sails"])).toEqual({
      keepBefore: 2,
      skipAfter: 2,
    });
  });
});

describe("tokenize", () => {
  it("splits on whitespace, keeps originals and normalizes case, width and punctuation for matching", () => {
    expect(tokenize("  Don't\tSTOP—now!  ").map((t) => [t.text, t.key])).toEqual([
      ["Don't", "dont"],
      ["STOP—now!", "stopnow"],
    ]);
    expect(tokenize("ＡＢＣ …").map((t) => t.key)).toEqual(["abc", "…"]);
  });
});
