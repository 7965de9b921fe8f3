import { LANGUAGES, languageCode, languageName } from "./languages.js";

/**
 * Which languages the served model knows, as ISO codes: `model.languages` from the service config when set
 * (what a Workers edge, which cannot read the model directory, is told), else the model's own
 * config.json `qwen3_asr.supported_languages`, else all of Qwen3-ASR's 30.
 */
export function supportedLanguageCodes(configured: readonly string[] | undefined, modelConfigJson?: unknown): string[] {
  if (configured && configured.length > 0) return configured.map((l) => toCode(l, "model.languages"));
  const declared = (modelConfigJson as { qwen3_asr?: { supported_languages?: unknown } } | undefined)?.qwen3_asr?.supported_languages;
  if (Array.isArray(declared) && declared.length > 0) return declared.map((l) => toCode(String(l), "supported_languages in the model's config.json"));
  return LANGUAGES.map(([, code]) => code);
}

function toCode(language: string, where: string): string {
  const code = languageCode(language);
  if (!code) throw new Error(`${where}: "${language}" is not one of Qwen3-ASR's languages`);
  return code;
}

/** "en, de" → "en (English), de (German)": for error messages that list what is supported. */
export function describeLanguages(codes: readonly string[]): string {
  return codes.map((c) => `${c} (${languageName(c) ?? c})`).join(", ");
}
