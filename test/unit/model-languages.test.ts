import { describe, expect, it } from "vitest";
import { parseServiceConfig } from "../../shared/config.js";
import { describeLanguages, supportedLanguageCodes } from "../../shared/model-languages.js";

describe("supported languages", () => {
  it("come from the config first, then the model's config.json, then all 30", () => {
    const model = { qwen3_asr: { supported_languages: ["English", "German"] } };
    expect(supportedLanguageCodes(["fr", "Italian"], model)).toEqual(["fr", "it"]);
    expect(supportedLanguageCodes(undefined, model)).toEqual(["en", "de"]);
    expect(supportedLanguageCodes(undefined, { qwen3_asr: {} })).toHaveLength(30);
    expect(supportedLanguageCodes(undefined, undefined)).toContain("yue");
  });

  it("refuses a language Qwen3-ASR has no name for, saying where it came from", () => {
    expect(() => supportedLanguageCodes(["klingon"])).toThrow(/model\.languages: "klingon"/);
    expect(() => supportedLanguageCodes(undefined, { qwen3_asr: { supported_languages: ["Elvish"] } })).toThrow(/config\.json: "Elvish"/);
  });

  it("reads MODEL_LANGUAGES as a comma list and describes codes for messages", () => {
    expect(parseServiceConfig({}, { MODEL_LANGUAGES: "en, de" }).model.languages).toEqual(["en", "de"]);
    expect(describeLanguages(["en", "de"])).toBe("en (English), de (German)");
  });
});
