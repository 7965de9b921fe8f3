/**
 * Turning generated text into { language, text }, after qwen_asr.inference.utils (parse_asr_output and
 * detect_and_fix_repetitions, threshold 20): the model writes "language X<asr_text>transcript".
 */
const REPEAT_THRESHOLD = 20;
const MAX_PATTERN = 20;

function fixCharRepeats(s: string, threshold: number): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    let count = 1;
    while (i + count < s.length && s[i + count] === s[i]) count++;
    out += count > threshold ? s[i] : s.slice(i, i + count);
    i += count;
  }
  return out;
}

function fixPatternRepeats(s: string, threshold: number): string {
  const n = s.length;
  const minChars = threshold * 2;
  if (n < minChars) return s;
  let out = "";
  for (let i = 0; i <= n - minChars; i++) {
    for (let k = 1; k <= MAX_PATTERN && i + k * threshold <= n; k++) {
      const pattern = s.slice(i, i + k);
      let repeats = 1;
      while (repeats < threshold && s.slice(i + repeats * k, i + (repeats + 1) * k) === pattern) repeats++;
      if (repeats < threshold) continue;
      let end = i + threshold * k;
      while (end + k <= n && s.slice(end, end + k) === pattern) end += k;
      return out + pattern + fixPatternRepeats(s.slice(end), threshold);
    }
    out += s[i];
  }
  return out + s.slice(Math.max(0, n - minChars + 1));
}

/** Collapses runaway repetitions (a character or a ≤ 20-character pattern repeated more than 20 times). */
export function fixRepetitions(text: string, threshold = REPEAT_THRESHOLD): string {
  return fixPatternRepeats(fixCharRepeats(text, threshold), threshold);
}

/** "language English" → "English"; "language None" or anything else → "". */
export function parseLanguageTag(meta: string): string {
  for (const line of meta.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    if (!trimmed.toLowerCase().startsWith("language ")) return "";
    const value = trimmed.slice("language ".length).trim();
    if (!value || value.toLowerCase() === "none") return "";
    return value.charAt(0).toUpperCase() + value.slice(1).toLowerCase();
  }
  return "";
}
