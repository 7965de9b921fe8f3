import { Tokenizer } from "@huggingface/tokenizers";
import type { ModelConfig } from "../../shared/model-config.js";
import { EngineError } from "./errors.js";
import { fixRepetitions, parseLanguageTag } from "./asr-output.js";

export interface ParsedTranscript {
  language: string;
  text: string;
  /** The decoded generation before parsing, special tokens removed. */
  raw: string;
}

/** Detokenisation and output parsing; ids of special tokens come from config.json. */
export class AsrTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly textStartId: number;
  private readonly stopIds: Set<number>;

  constructor(tokenizerJson: object, private readonly config: ModelConfig) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, {});
    } catch (cause) {
      throw new EngineError("invalid_tokenizer", `tokenizer.json cannot be loaded: ${(cause as Error).message}`, { cause });
    }
    this.textStartId = config.text_start_token_id;
    this.stopIds = new Set(config.eos_token_ids);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    // Ids past the tokenizer's vocabulary (embedding rows padded to a round size) carry no text.
    const known = ids.filter((id) => this.tokenizer.id_to_token(id) !== undefined);
    if (known.length === 0) return "";
    return withoutControlCharacters(this.tokenizer.decode(known, { skip_special_tokens: true }));
  }

  /** Splits on the `<asr_text>` id rather than on decoded text, so it works whether or not it is "special". */
  parse(generated: number[], forcedLanguage?: string): ParsedTranscript {
    const ids = generated.filter((id) => !this.stopIds.has(id));
    const split = forcedLanguage ? -1 : ids.indexOf(this.textStartId);
    const textIds = split >= 0 ? ids.slice(split + 1) : ids;
    const text = fixRepetitions(this.decode(textIds).trim()).trim();
    const raw = this.decode(ids);
    if (forcedLanguage) return { language: forcedLanguage, text, raw };
    if (split < 0) return { language: "", text, raw };
    return { language: parseLanguageTag(this.decode(ids.slice(0, split))), text, raw };
  }
}

/**
 * Byte-level tokens can spell any byte, so a model that goes astray can write NUL and other C0 controls: they are
 * never speech, PostgreSQL refuses NUL in text, and subtitles break on them. Tabs and newlines stay.
 */
export const withoutControlCharacters = (text: string): string => text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, "");
