import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixRepetitions, parseLanguageTag } from "../../gpu-worker/engine/asr-output.js";
import { loadModelDirectory } from "../../gpu-worker/engine/model-dir.js";
import { AsrTokenizer, withoutControlCharacters } from "../../gpu-worker/engine/tokenizer.js";

const model = loadModelDirectory(fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url)));
const tokenizer = new AsrTokenizer(model.tokenizerJson, model.config);
const eos = model.config.eos_token_ids[1];

describe("parsing model output", () => {
  it("splits language and text on the <asr_text> id", () => {
    const ids = [...tokenizer.encode("language English<asr_text>Set a timer for five minutes."), eos];
    expect(ids).toContain(model.config.text_start_token_id);
    expect(tokenizer.parse(ids)).toMatchObject({ language: "English", text: "Set a timer for five minutes." });
  });

  it("treats 'language None' as no speech", () => {
    expect(tokenizer.parse(tokenizer.encode("language None<asr_text>"))).toMatchObject({ language: "", text: "" });
  });

  it("takes everything as text when the language was forced", () => {
    expect(tokenizer.parse(tokenizer.encode("hello there"), "English")).toMatchObject({ language: "English", text: "hello there" });
  });

  it("keeps untagged output as text with an unknown language", () => {
    expect(tokenizer.parse(tokenizer.encode("hello"))).toMatchObject({ language: "", text: "hello" });
  });

  it("ignores ids beyond the tokenizer's vocabulary", () => {
    expect(tokenizer.decode([model.config.qwen3_asr.vocab_size - 1, ...tokenizer.encode("ok")])).toBe("ok");
  });

  it("reads the language line like qwen-asr", () => {
    expect(parseLanguageTag("language english")).toBe("English");
    expect(parseLanguageTag("\nlanguage Chinese\n")).toBe("Chinese");
    expect(parseLanguageTag("something else")).toBe("");
  });

  it("collapses runaway repetition but keeps normal text", () => {
    expect(fixRepetitions("a".repeat(30) + "b")).toBe("ab");
    expect(fixRepetitions("ha ".repeat(25) + "end")).toBe("ha end");
    expect(fixRepetitions("the the the end")).toBe("the the the end");
  });
});

describe("control characters in model output", () => {
  it("are dropped: a model that goes astray can spell NUL byte by byte, which PostgreSQL refuses in text", () => {
    expect(withoutControlCharacters("a\u0000b\u0007c\u001Fd\u007F")).toBe("abcd");
    expect(withoutControlCharacters("line one\nline two\tend")).toBe("line one\nline two\tend");
  });
});
