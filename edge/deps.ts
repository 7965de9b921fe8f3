import type { Db } from "../db/client.js";
import type { AudioFormat } from "../shared/audio-sniff.js";
import type { BlobStore } from "../shared/blob-store.js";
import type { ServiceConfig } from "../shared/config.js";
import type { ResolveHost } from "../shared/network-guard.js";
import type { JobQueue } from "../shared/queue.js";
import type { Logger } from "../shared/logger.js";
import type { DirectUploads } from "./upload/direct-uploads.js";

/** What an upload turned out to be, once checked: throws AudioError when it is not usable audio. */
export interface ProbedAudio {
  format: AudioFormat;
  contentType: string;
  durationSeconds: number;
}
export type AudioProbe = (bytes: Uint8Array) => Promise<ProbedAudio>;

/** Swagger UI's files for /docs (a fixed set, by name), where the server has them; the page uses a CDN otherwise. */
export type DocsAssets = (name: string) => Promise<{ body: string; type: string } | null>;

/** Everything the API needs from the outside world; Node and Workers entry points build it from env. */
export interface EdgeDeps {
  db: Db;
  blobs: BlobStore;
  queue: JobQueue;
  config: ServiceConfig;
  probeAudio: AudioProbe;
  /** DNS for the SSRF guard (Node); Workers check literal addresses only. */
  resolveHost?: ResolveHost;
  /** Fetch used for `audio_url` downloads. */
  fetch?: typeof fetch;
  now?: () => Date;
  logger: Logger;
  /** Bearer token for /v1/admin routes; admin routes answer 404 when unset. */
  adminToken?: string;
  /** Parses multipart bodies as they stream in (Node); the platform's parser, on the whole body, when unset. */
  parseMultipart?: (request: Request) => Promise<FormData>;
  /** ISO codes of the languages the model knows; `config.model.languages` (or all of Qwen3-ASR's) when unset. */
  supportedLanguages?: readonly string[];
  /** Uploads straight to storage (POST /v1/uploads) for files above the request size; those routes 404 when unset. */
  uploads?: DirectUploads;
  /** Swagger UI served by this server (Node: from node_modules), so /docs works without internet. */
  docsAssets?: DocsAssets;
}
