/**
 * npm run transcribe -- FILE [--wait] [--format txt|srt|vtt|json] [--language en] [--api URL] [--key KEY]
 *
 * Uploads FILE, shows a progress bar while the job runs (with --wait) and prints the transcript. Flags,
 * environment and exit codes: USAGE in ./transcribe-options.ts (`--help`) and the README.
 */
import { isEntryPoint } from "../shared/entry-point.js";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { DEFAULT_INTERVAL_MS, EXIT, parseTranscribeArgs, USAGE, UsageError, type TranscribeOptions } from "./transcribe-options.js";

interface Job {
  id: string;
  status: string;
  /** fetching, decoding or transcribing while processing (older servers: absent). */
  phase?: string | null;
  progress: number;
  no_speech?: boolean | null;
  error: { code: string; message: string } | null;
}

export function progressBar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

/** A failure with the exit code it ends the command with and a message that says what to do. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** What to try next after the API refused a request, by its error code. */
function hintFor(status: number, code: string, options: TranscribeOptions, retryAfter: string | null): string {
  if (status === 401) return "check the key: --key or ASR_API_KEY (npm start prints one and keeps it in .data/dev-api-key)";
  if (code === "rate_limited" || code === "quota_exceeded") return retryAfter ? `retry in ${retryAfter} s` : "retry later";
  if (status === 413 || status === 415 || status === 422) return `${options.file} was not accepted as audio (WAV, FLAC, MP3, Ogg, M4A, WebM; see the README)`;
  if (status === 404 && code === "not_found") return `is ${options.apiUrl} (from ${options.apiUrlSource}) this API's address?`;
  if (status >= 500) return "the server had a problem; retry shortly";
  return "";
}

function unreachable(error: unknown, url: string, options: TranscribeOptions): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  const where =
    options.apiUrlSource === "--api" || options.apiUrlSource === "ASR_API_URL"
      ? `(from ${options.apiUrlSource})`
      : `(${options.apiUrlSource === "PORT" ? "from PORT" : "the default"}; set --api or ASR_API_URL for another server)`;
  return new CliError(`cannot reach the API at ${url} ${where}: ${reason}. Is the server running? Start a local one with npm start.`, EXIT.unreachable);
}

async function api(options: TranscribeOptions, key: string, path: string, init: RequestInit = {}): Promise<Response> {
  const url = options.apiUrl + path;
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { Authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
  } catch (error) {
    throw unreachable(error, options.apiUrl, options);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    const code = body?.error?.code ?? "http_error";
    const what = body?.error ? `${res.status} ${code}: ${body.error.message}` : `HTTP ${res.status} from ${url} (not this API's error format)`;
    const hint = hintFor(res.status, code, options, res.headers.get("retry-after"));
    throw new CliError(`the API refused ${init.method ?? "GET"} ${path}: ${what}${hint ? `\n  ${hint}` : ""}`, EXIT.apiError);
  }
  return res;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the command and returns its exit code; every expected failure is a message on `err`, not a stack trace. */
export async function transcribeCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  try {
    return await run(argv, out, err, env);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`error: ${error.message}\nRun with --help for the options.\n`);
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      err.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

async function run(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream & { isTTY?: boolean }, env: Record<string, string | undefined>): Promise<number> {
  const localKey = existsSync(".data/dev-api-key") ? readFileSync(".data/dev-api-key", "utf8").trim() : null;
  const command = parseTranscribeArgs(argv, env, localKey);
  if (command.help) {
    out.write(USAGE);
    return EXIT.ok;
  }
  const options = command.options;
  if (!options.key) throw new UsageError("no API key: pass --key KEY or set ASR_API_KEY (a local npm start prints one and keeps it in .data/dev-api-key)");
  let bytes: Buffer;
  try {
    bytes = readFileSync(options.file);
  } catch (error) {
    throw new UsageError(`cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const key = options.key;

  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(bytes)]), basename(options.file));
  if (options.language) form.append("language", options.language);
  if (options.prompt) form.append("prompt", options.prompt);
  let job = (await (await api(options, key, "/v1/transcriptions", { method: "POST", body: form })).json()) as Job;
  if (!options.wait) {
    out.write(`${job.id}\n`);
    return EXIT.ok;
  }
  const interactive = Boolean(err.isTTY);
  let retryAfterMs = DEFAULT_INTERVAL_MS;
  while (!["completed", "failed", "canceled"].includes(job.status)) {
    err.write(`${interactive ? "\r" : ""}${progressBar(job.progress)} ${(job.phase ?? job.status).padEnd(12)}${interactive ? "" : "\n"}`);
    await sleep(options.intervalMs ?? retryAfterMs);
    const res = await api(options, key, `/v1/transcriptions/${job.id}`);
    // The server says how often to poll an unfinished job; --interval overrides it.
    const retryAfter = Number(res.headers.get("retry-after"));
    retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : DEFAULT_INTERVAL_MS;
    job = (await res.json()) as Job;
  }
  err.write(`${interactive ? "\r" : ""}${progressBar(job.status === "completed" ? 1 : job.progress)} ${job.status.padEnd(12)}\n`);
  if (job.status !== "completed") {
    err.write(`job ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ""}\n`);
    return EXIT.jobFailed;
  }
  if (job.no_speech) err.write("no speech in the audio (empty transcript, not billed)\n");
  const transcript = await (await api(options, key, `/v1/transcriptions/${job.id}/transcript?format=${options.format}`)).text();
  out.write(transcript);
  if (!transcript.endsWith("\n")) out.write("\n");
  return EXIT.ok;
}

if (isEntryPoint(import.meta.url)) {
  transcribeCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`error: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
