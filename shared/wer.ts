/** Word error rate: (substitutions + deletions + insertions) / reference words, on normalised words. */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/o'clock/g, "oclock")
    .split(/[^\p{L}\p{N}']+/u)
    .map((w) => w.replace(/^'+|'+$/g, ""))
    .filter(Boolean);
}

/** Levenshtein distance between word sequences (one row of the table at a time). */
export function wordEdits(reference: readonly string[], hypothesis: readonly string[]): number {
  let previous = Array.from({ length: hypothesis.length + 1 }, (_, j) => j);
  for (let i = 1; i <= reference.length; i++) {
    const current = [i];
    for (let j = 1; j <= hypothesis.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[hypothesis.length];
}

export interface WerTally {
  edits: number;
  words: number;
}

export function wer(reference: string, hypothesis: string): WerTally {
  const ref = normalizeWords(reference);
  return { edits: wordEdits(ref, normalizeWords(hypothesis)), words: ref.length };
}

export const rate = (t: WerTally): number => (t.words === 0 ? 0 : t.edits / t.words);

export const addTally = (a: WerTally, b: WerTally): WerTally => ({ edits: a.edits + b.edits, words: a.words + b.words });
