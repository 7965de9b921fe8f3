import fc from "fast-check";
import { createRequire } from "node:module";
import SrtParser from "srt-parser-2";
import { describe, expect, it } from "vitest";
import {
  renderJson,
  renderSrt,
  renderText,
  renderTranscript,
  renderVerboseJson,
  renderVtt,
  timestamp,
  type Transcript,
  type TranscriptSegment,
} from "../../shared/transcript-format.js";

// webvtt-parser is CommonJS without types; this is the part of it the tests use.
interface VttCue {
  id: string;
  startTime: number;
  endTime: number;
  text: string;
}
interface VttParser {
  parse(input: string): { cues: VttCue[]; errors: Array<{ message: string; line: number }> };
}
const { WebVTTParser } = createRequire(import.meta.url)("webvtt-parser") as { WebVTTParser: new () => VttParser };

function parseSrt(srt: string) {
  return new SrtParser().fromSrt(srt);
}

function parseVtt(vtt: string) {
  return new WebVTTParser().parse(vtt);
}

function decodeVttText(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function transcript(segments: TranscriptSegment[], overrides: Partial<Transcript> = {}): Transcript {
  return {
    text: segments.map((s) => s.text.trim()).join(" "),
    segments,
    language: "English",
    durationSeconds: segments.length > 0 ? segments[segments.length - 1].end + 0.5 : 0,
    ...overrides,
  };
}

const threeCues = transcript([
  { start: 0, end: 2.5, text: "Hello there." },
  { start: 2.5, end: 5.25, text: "General Kenobi!" },
  { start: 7.001, end: 9.999, text: "You are a bold one." },
]);

describe("SRT", () => {
  it("numbers cues from 1 with HH:MM:SS,mmm times and a blank line after each", () => {
    expect(renderSrt(threeCues)).toBe(
      "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n" +
        "2\n00:00:02,500 --> 00:00:05,250\nGeneral Kenobi!\n\n" +
        "3\n00:00:07,001 --> 00:00:09,999\nYou are a bold one.\n\n",
    );
    const cues = parseSrt(renderSrt(threeCues));
    expect(cues.map((c) => [c.id, c.startSeconds, c.endSeconds, c.text])).toEqual([
      ["1", 0, 2.5, "Hello there."],
      ["2", 2.5, 5.25, "General Kenobi!"],
      ["3", 7.001, 9.999, "You are a bold one."],
    ]);
  });

  it("writes times past an hour, and past 99 hours", () => {
    const long = transcript([
      { start: 3723.456, end: 3725, text: "an hour in" },
      { start: 360_000, end: 360_001.5, text: "a hundred hours in" },
    ]);
    const srt = renderSrt(long);
    expect(srt).toContain("01:02:03,456 --> 01:02:05,000");
    expect(srt).toContain("100:00:00,000 --> 100:00:01,500");
    expect(parseSrt(srt)[0]).toMatchObject({ startSeconds: 3723.456, endSeconds: 3725 });
  });

  it("keeps each cue intact whatever its text holds", () => {
    const tricky = transcript([
      { start: 1, end: 2, text: "a --> b\n\nc <i>&</i>\n2\n00:00:05,000 --> 00:00:06,000 ---> d" },
      { start: 3, end: 4, text: "next" },
    ]);
    const cues = parseSrt(renderSrt(tricky));
    expect(cues).toHaveLength(2);
    expect(cues[0].text).toBe("a -> b c <i>&</i> 2 00:00:05,000 -> 00:00:06,000 -> d");
    expect(cues[1]).toMatchObject({ id: "2", startSeconds: 3, text: "next" });
  });

  it("renders an empty transcript as an empty file and drops empty cues", () => {
    expect(renderSrt(transcript([]))).toBe("");
    expect(parseSrt(renderSrt(transcript([])))).toEqual([]);
    const withBlanks = transcript([
      { start: 0, end: 1, text: "  " },
      { start: 1, end: 2, text: "kept" },
      { start: 2, end: 3, text: "" },
    ]);
    expect(renderSrt(withBlanks)).toBe("1\n00:00:01,000 --> 00:00:02,000\nkept\n\n");
  });
});

describe("WebVTT", () => {
  it("has the WEBVTT header and HH:MM:SS.mmm times, and validates", () => {
    const vtt = renderVtt(threeCues);
    expect(vtt.startsWith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n")).toBe(true);
    const parsed = parseVtt(vtt);
    expect(parsed.errors).toEqual([]);
    expect(parsed.cues.map((c) => [c.id, c.startTime, c.endTime, c.text])).toEqual([
      ["1", 0, 2.5, "Hello there."],
      ["2", 2.5, 5.25, "General Kenobi!"],
      ["3", 7.001, 9.999, "You are a bold one."],
    ]);
  });

  it("escapes markup so --> and tags in the text stay text", () => {
    const tricky = transcript([
      { start: 3723.456, end: 3724, text: "x --> y <b>bold</b> & more\n\nstill the same cue" },
      { start: 3725, end: 3726, text: "second" },
    ]);
    const vtt = renderVtt(tricky);
    expect(vtt).toContain(
      "01:02:03.456 --> 01:02:04.000\nx --&gt; y &lt;b&gt;bold&lt;/b&gt; &amp; more still the same cue\n",
    );
    const parsed = parseVtt(vtt);
    expect(parsed.errors).toEqual([]);
    expect(parsed.cues).toHaveLength(2);
    expect(decodeVttText(parsed.cues[0].text)).toBe("x --> y <b>bold</b> & more still the same cue");
  });

  it("renders an empty transcript as the header alone, which validates", () => {
    expect(renderVtt(transcript([]))).toBe("WEBVTT\n\n");
    expect(parseVtt(renderVtt(transcript([])))).toMatchObject({ cues: [], errors: [] });
  });

  it("gives a zero-length segment 1 ms, since end must follow start", () => {
    const parsed = parseVtt(renderVtt(transcript([{ start: 5, end: 5, text: "blip" }])));
    expect(parsed.errors).toEqual([]);
    expect(parsed.cues[0]).toMatchObject({ startTime: 5, endTime: 5.001 });
  });

  it("rejects times that are not finite", () => {
    expect(() => renderVtt(transcript([{ start: Number.NaN, end: 1, text: "x" }]))).toThrow(RangeError);
  });
});

describe("SRT and WebVTT, properties", () => {
  const textPiece = fc.constantFrom(
    "hello",
    "World",
    "-->",
    "--->",
    "->",
    "<",
    ">",
    "&",
    "&amp;",
    "<b>",
    "\n",
    "\n\n",
    " ",
    "\t",
    "42",
    "00:00:01,000",
    "00:00:01.000 --> 00:00:02.000",
    "NOTE",
    "WEBVTT",
    "é",
    "字",
    "🙂",
  );
  const segmentsArbitrary = fc
    .array(
      fc.record({
        gapMs: fc.integer({ min: 0, max: 600_000 }),
        lengthMs: fc.integer({ min: 0, max: 20_000 }),
        text: fc.array(textPiece, { maxLength: 12 }).map((pieces) => pieces.join("")),
      }),
      { maxLength: 30 },
    )
    .map((drafts) => {
      let ms = 0;
      return drafts.map(({ gapMs, lengthMs, text }): TranscriptSegment => {
        const start = (ms += gapMs);
        const end = (ms += lengthMs);
        return { start: start / 1000, end: end / 1000, text };
      });
    });

  const ms = (seconds: number): number => Math.round(seconds * 1000);
  /** What the cues should hold: one-line text, empty ones dropped, times in ms, in order, at least 1 ms long. */
  const expectedCues = (segments: readonly TranscriptSegment[]) => {
    let previousEnd = 0;
    return segments
      .map((s) => ({ ...s, text: s.text.replace(/\s+/g, " ").trim() }))
      .filter((s) => s.text !== "")
      .map((s) => {
        const startMs = Math.max(ms(s.start), previousEnd);
        const endMs = Math.max(ms(s.end), startMs + 1);
        previousEnd = endMs;
        return { startMs, endMs, text: s.text };
      });
  };

  it("SRT parses back to the same cues and times", () => {
    fc.assert(
      fc.property(segmentsArbitrary, (segments) => {
        const expected = expectedCues(segments).filter((cue) => cue.endMs < 100 * 3600_000); // 2-digit hours
        const cues = parseSrt(renderSrt(transcript(segments))).slice(0, expected.length);
        expect(cues.map((c) => [ms(c.startSeconds), ms(c.endSeconds)])).toEqual(
          expected.map((c) => [c.startMs, c.endMs]),
        );
        expect(cues.map((c) => c.text)).toEqual(expected.map((c) => c.text.replace(/-{2,}>/g, "->")));
        expect(cues.map((c) => c.id)).toEqual(expected.map((_, i) => String(i + 1)));
      }),
      { numRuns: 300 },
    );
  });

  it("WebVTT validates and parses back to the same cues and times", () => {
    fc.assert(
      fc.property(segmentsArbitrary, (segments) => {
        const expected = expectedCues(segments);
        const parsed = parseVtt(renderVtt(transcript(segments)));
        expect(parsed.errors).toEqual([]);
        expect(parsed.cues.map((c) => [ms(c.startTime), ms(c.endTime)])).toEqual(
          expected.map((c) => [c.startMs, c.endMs]),
        );
        expect(parsed.cues.map((c) => decodeVttText(c.text))).toEqual(expected.map((c) => c.text));
      }),
      { numRuns: 300 },
    );
  });
});

describe("text and JSON", () => {
  it("renders plain text with one trailing newline, and nothing for an empty transcript", () => {
    expect(renderText(threeCues)).toBe("Hello there. General Kenobi! You are a bold one.\n");
    expect(renderText(transcript([]))).toBe("");
  });

  it("renders OpenAI json with usage in whole seconds, rounded up", () => {
    expect(JSON.parse(renderJson(threeCues))).toEqual({
      text: "Hello there. General Kenobi! You are a bold one.",
      usage: { type: "duration", seconds: 11 },
    });
    expect(JSON.parse(renderJson(transcript([])))).toEqual({ text: "", usage: { type: "duration", seconds: 0 } });
  });

  it("renders OpenAI verbose_json with neutral values where Qwen3-ASR reports nothing", () => {
    const body = JSON.parse(renderVerboseJson(threeCues));
    expect(body).toMatchObject({ task: "transcribe", language: "english", duration: 10.499, text: threeCues.text });
    expect(body.words).toBeUndefined();
    expect(body.segments[1]).toEqual({
      id: 1,
      seek: 250,
      start: 2.5,
      end: 5.25,
      text: "General Kenobi!",
      tokens: [],
      temperature: 0,
      avg_logprob: 0,
      compression_ratio: 1,
      no_speech_prob: 0,
    });
    expect(JSON.parse(renderVerboseJson(transcript([]), { includeWords: true }))).toEqual({
      task: "transcribe",
      language: "english",
      duration: 0,
      text: "",
      segments: [],
      words: [],
      word_timestamps: "estimated",
    });
  });

  it("adds words to verbose_json when asked", () => {
    const withWords = { ...threeCues, words: [{ word: "Hello", start: 0.1234, end: 0.5 }] };
    const body = JSON.parse(renderVerboseJson(withWords, { includeWords: true }));
    expect(body.words).toEqual([{ word: "Hello", start: 0.123, end: 0.5 }]);
    // Qwen3-ASR reports no word times: the response says they are estimates.
    expect(body.word_timestamps).toBe("estimated");
    expect(JSON.parse(renderVerboseJson(withWords)).word_timestamps).toBeUndefined();
  });

  it("serves text formats as text/plain and JSON as application/json", () => {
    const formats = ["text", "txt", "srt", "vtt", "json", "verbose_json"] as const;
    const rendered = formats.map((format) => renderTranscript(threeCues, format));
    expect(rendered.map((r) => r.contentType)).toEqual([
      "text/plain; charset=utf-8",
      "text/plain; charset=utf-8",
      "text/plain; charset=utf-8",
      "text/plain; charset=utf-8",
      "application/json",
      "application/json",
    ]);
    expect(rendered.map((r) => r.body)).toEqual([
      renderText(threeCues),
      renderText(threeCues),
      renderSrt(threeCues),
      renderVtt(threeCues),
      renderJson(threeCues),
      renderVerboseJson(threeCues),
    ]);
  });

  it("formats millisecond timestamps with two-digit hours at least", () => {
    expect(timestamp(0, ",")).toBe("00:00:00,000");
    expect(timestamp(59_999, ".")).toBe("00:00:59.999");
    expect(timestamp(3_600_000 + 61_001, ",")).toBe("01:01:01,001");
  });
});
