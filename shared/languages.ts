/** Qwen3-ASR's 30 languages: the name the model uses and the ISO 639 code the API speaks. */
export const LANGUAGES: ReadonlyArray<readonly [name: string, code: string]> = [
  ["Chinese", "zh"], ["English", "en"], ["Cantonese", "yue"], ["Arabic", "ar"], ["German", "de"], ["French", "fr"],
  ["Spanish", "es"], ["Portuguese", "pt"], ["Indonesian", "id"], ["Italian", "it"], ["Korean", "ko"],
  ["Russian", "ru"], ["Thai", "th"], ["Vietnamese", "vi"], ["Japanese", "ja"], ["Turkish", "tr"], ["Hindi", "hi"],
  ["Malay", "ms"], ["Dutch", "nl"], ["Swedish", "sv"], ["Danish", "da"], ["Finnish", "fi"], ["Polish", "pl"],
  ["Czech", "cs"], ["Filipino", "tl"], ["Persian", "fa"], ["Greek", "el"], ["Romanian", "ro"], ["Hungarian", "hu"],
  ["Macedonian", "mk"],
];

const byCode = new Map(LANGUAGES.map(([name, code]) => [code, name]));
const byName = new Map(LANGUAGES.map(([name, code]) => [name.toLowerCase(), code]));

/** "en", "EN", "English" or "english" → "en"; null when unknown. */
export function languageCode(input: string): string | null {
  const key = input.trim().toLowerCase();
  if (byCode.has(key)) return key;
  if (key === "fil") return "tl";
  return byName.get(key) ?? null;
}

/** "en" → "English" (the model's name), or null. */
export function languageName(code: string): string | null {
  return byCode.get(code) ?? null;
}
