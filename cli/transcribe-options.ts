/**
 * `npm run transcribe` / `npx asr transcribe`: its flags, environment and exit codes, and the pure parsing that
 * checks them all before anything is uploaded (a bad --format must not cost a billed job).
 */
import { parseArgs } from "node:util";
import { languageCode } from "../shared/languages.js";

export const TRANSCRIPT_FORMATS = ["txt", "srt", "vtt", "json"] as const;
export type CliTranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

/** What the process exits with; listed in --help and the README. */
export const EXIT = {
  ok: 0,
  /** The job failed or was canceled. */
  jobFailed: 1,
  /** Bad flags or arguments, or a file that cannot be read: nothing was sent. */
  usage: 2,
  /** The API refused the request (its error code and message are printed). */
  apiError: 3,
  /** The API could not be reached at all. */
  unreachable: 4,
} as const;

export const DEFAULT_PORT = 8787;
export const DEFAULT_INTERVAL_MS = 2000;

export const USAGE = `Usage: npm run transcribe -- FILE [options]
       npx asr transcribe FILE [options]

Uploads FILE to the transcription API. Without --wait it prints the job id; with --wait it shows progress and
prints the transcript.

Options:
  --wait                 wait for the job and print the transcript (implied by --format)
  --format FORMAT        txt (default), srt, vtt or json
  --language LANG        ISO 639-1 code or name (en, English); detected when omitted
  --prompt TEXT          context for the model: names, terms, the topic (at most 1000 characters)
  --api URL              the API's base URL (default: $ASR_API_URL, else http://127.0.0.1:$PORT, PORT 8787)
  --key KEY              the API key (default: $ASR_API_KEY, else ./.data/dev-api-key written by npm start)
  --interval SECONDS     seconds between polls with --wait (default: the server's Retry-After, else 2)
  -h, --help             this help

Environment:
  ASR_API_URL            the API's base URL, e.g. https://asr.example.com
  ASR_API_KEY            the API key (sk_live_…)
  PORT                   the port of a local server (npm start) when no URL is given

Exit codes:
  0  done (the job id or the transcript was printed)
  1  the job failed or was canceled
  2  bad options or an unreadable file: nothing was uploaded
  3  the API refused the request (for example a wrong key, unsupported audio, a rate limit)
  4  the API could not be reached
`;

export class UsageError extends Error {
  override name = "UsageError";
}

export interface TranscribeOptions {
  file: string;
  wait: boolean;
  format: CliTranscriptFormat;
  language: string | null;
  prompt: string | null;
  apiUrl: string;
  /** Where the URL came from, for error messages that say what to change. */
  apiUrlSource: "--api" | "ASR_API_URL" | "PORT" | "default";
  key: string | null;
  /** Milliseconds between polls; null: follow the server's Retry-After. */
  intervalMs: number | null;
}

export type ParsedCommand = { help: true } | { help: false; options: TranscribeOptions };

type Env = Record<string, string | undefined>;

/** Parses and checks argv (without the node and script paths) and the environment; throws UsageError. */
export function parseTranscribeArgs(argv: string[], env: Env, localKey: string | null = null): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        wait: { type: "boolean", default: false },
        format: { type: "string" },
        language: { type: "string" },
        prompt: { type: "string" },
        api: { type: "string" },
        key: { type: "string" },
        interval: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return { help: true };
  const positionals = parsed.positionals[0] === "transcribe" ? parsed.positionals.slice(1) : parsed.positionals;
  if (positionals.length === 0) throw new UsageError("no audio file given");
  if (positionals.length > 1) throw new UsageError(`one file at a time (got ${positionals.length}: ${positionals.join(", ")})`);

  const format = values.format ?? "txt";
  if (!(TRANSCRIPT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format ${format} is not one of ${TRANSCRIPT_FORMATS.join(", ")}`);
  }
  let language: string | null = null;
  if (values.language !== undefined && values.language !== "" && values.language !== "auto") {
    language = languageCode(values.language);
    if (!language) throw new UsageError(`--language ${values.language} is not a supported language (an ISO 639-1 code such as en, or a name)`);
  }
  const prompt = values.prompt ?? null;
  if (prompt !== null && prompt.length > 1000) throw new UsageError("--prompt is limited to 1000 characters");
  let intervalMs: number | null = null;
  if (values.interval !== undefined) {
    const seconds = Number(values.interval);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`--interval ${values.interval} is not a number of seconds between 0 and 3600`);
    intervalMs = seconds * 1000;
  }
  const api = resolveApiUrl(values.api, env);
  return {
    help: false,
    options: {
      file: positionals[0],
      wait: values.wait || values.format !== undefined,
      format: format as CliTranscriptFormat,
      language,
      prompt,
      ...api,
      key: values.key ?? env.ASR_API_KEY ?? localKey,
      intervalMs,
    },
  };
}

/** --api, then ASR_API_URL, then a local server on PORT (8787 by default). */
export function resolveApiUrl(flag: string | undefined, env: Env): Pick<TranscribeOptions, "apiUrl" | "apiUrlSource"> {
  const [raw, source]: [string, TranscribeOptions["apiUrlSource"]] =
    flag !== undefined
      ? [flag, "--api"]
      : env.ASR_API_URL
        ? [env.ASR_API_URL, "ASR_API_URL"]
        : env.PORT
          ? [`http://127.0.0.1:${env.PORT}`, "PORT"]
          : [`http://127.0.0.1:${DEFAULT_PORT}`, "default"];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${source} ${JSON.stringify(raw)} is not a URL (for example http://127.0.0.1:8787)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${source} ${raw} must be an http or https URL`);
  return { apiUrl: url.toString().replace(/\/+$/, ""), apiUrlSource: source };
}
