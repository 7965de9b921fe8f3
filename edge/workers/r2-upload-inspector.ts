import type { R2BlobStore } from "../../shared/adapters/r2-blob-store.js";
import { sniffAudioFormat } from "../../shared/audio-sniff.js";
import type { ServiceConfig } from "../../shared/config.js";
import type { DirectUploads } from "../upload/direct-uploads.js";
import { probeHeaders } from "./header-probe.js";

/** Enough for every header we read (ID3 tags with cover art included), and far below the isolate's 128 MB. */
const HEAD_BYTES = 1024 * 1024;
/** Two of Ogg's largest pages (65,307 bytes each): the last complete one, which gives the length, is in there. */
const TAIL_BYTES = 2 * 65_307;

/**
 * Workers: an uploaded object may be gigabytes, so only its size, its first megabyte and (for Ogg) its last
 * pages are read, with R2 range requests, and checked by the header probe.
 */
export function r2UploadInspector(store: R2BlobStore, limits: ServiceConfig["limits"]): DirectUploads["inspect"] {
  return async (key) => {
    const info = await store.head(key);
    if (!info) return null;
    const head = info.size === 0 ? new Uint8Array(0) : ((await store.getRange(key, { offset: 0, length: Math.min(HEAD_BYTES, info.size) })) ?? new Uint8Array(0));
    return {
      size: info.size,
      head,
      probe: async () => {
        const needsTail = info.size > head.length && sniffAudioFormat(head)?.format === "ogg";
        const tail = needsTail ? ((await store.getRange(key, { suffix: Math.min(TAIL_BYTES, info.size - head.length) })) ?? undefined) : undefined;
        return probeHeaders({ head, totalBytes: info.size, tail }, limits);
      },
    };
  };
}
