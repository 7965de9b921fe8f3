/**
 * npx asr transcribe FILE [--wait] [--format txt|srt|vtt|json] [--language en] [--api URL] [--key KEY]
 *
 * Uploads FILE, shows a progress bar while the job runs (with --wait) and prints the transcript. The API URL
 * and key default to ASR_API_URL / ASR_API_KEY, then to a local `npm start` (http://127.0.0.1:8787 and the key in
 * ./.data/dev-api-key).
 */
import { isEntryPoint } from "../shared/entry-point.js";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

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

async function api(base: string, key: string, path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(base + path, { ...init, headers: { Authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new Error(body?.error ? `${res.status} ${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  }
  return res;
}

export async function transcribeCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wait: { type: "boolean", default: false },
      format: { type: "string", default: "txt" },
      language: { type: "string" },
      api: { type: "string" },
      key: { type: "string" },
      interval: { type: "string", default: "500" },
    },
  });
  const args = positionals[0] === "transcribe" ? positionals.slice(1) : positionals;
  const file = args[0];
  if (!file) {
    err.write("usage: asr transcribe FILE [--wait] [--format txt|srt|vtt|json] [--language en]\n");
    return 2;
  }
  const base = (values.api ?? process.env.ASR_API_URL ?? "http://127.0.0.1:8787").replace(/\/$/, "");
  const localKey = existsSync(".data/dev-api-key") ? readFileSync(".data/dev-api-key", "utf8").trim() : undefined;
  const key = values.key ?? process.env.ASR_API_KEY ?? localKey;
  if (!key) throw new Error("no API key: pass --key or set ASR_API_KEY");

  const form = new FormData();
  form.append("file", new Blob([readFileSync(file)]), basename(file));
  if (values.language) form.append("language", values.language);
  let job = (await (await api(base, key, "/v1/transcriptions", { method: "POST", body: form })).json()) as Job;
  if (!values.wait) {
    out.write(`${job.id}\n`);
    return 0;
  }
  const interactive = Boolean(err.isTTY);
  while (!["completed", "failed", "canceled"].includes(job.status)) {
    err.write(`${interactive ? "\r" : ""}${progressBar(job.progress)} ${(job.phase ?? job.status).padEnd(12)}${interactive ? "" : "\n"}`);
    await new Promise((r) => setTimeout(r, Number(values.interval)));
    job = (await (await api(base, key, `/v1/transcriptions/${job.id}`)).json()) as Job;
  }
  err.write(`${interactive ? "\r" : ""}${progressBar(job.status === "completed" ? 1 : job.progress)} ${job.status.padEnd(12)}\n`);
  if (job.status !== "completed") {
    err.write(`job ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ""}\n`);
    return 1;
  }
  if (job.no_speech) err.write("no speech in the audio (empty transcript, not billed)\n");
  out.write(await (await api(base, key, `/v1/transcriptions/${job.id}/transcript?format=${values.format}`)).text());
  if (values.format === "txt") out.write("\n");
  return 0;
}

if (isEntryPoint(import.meta.url)) {
  transcribeCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(1);
    },
  );
}
