import { describe, expect, it } from "vitest";
import { normalizeWords, rate, wer, wordEdits } from "../../shared/wer.js";

describe("word error rate", () => {
  it("normalises case and punctuation", () => {
    expect(normalizeWords("Set a timer, for FIVE minutes.")).toEqual(["set", "a", "timer", "for", "five", "minutes"]);
    expect(normalizeWords("at seven o'clock")).toEqual(["at", "seven", "oclock"]);
  });

  it("counts substitutions, deletions and insertions", () => {
    expect(wordEdits(["a", "b", "c"], ["a", "b", "c"])).toBe(0);
    expect(wordEdits(["a", "b", "c"], ["a", "x", "c"])).toBe(1);
    expect(wordEdits(["a", "b", "c"], ["a", "c"])).toBe(1);
    expect(wordEdits(["a", "b", "c"], ["a", "b", "b", "c"])).toBe(1);
    expect(wordEdits([], ["a"])).toBe(1);
    expect(rate(wer("one two three four", "one two four five"))).toBe(0.5);
  });
});
