import { ApiError } from "../../shared/api-error.js";
import { checkOutboundUrl, TargetRejected, type ResolveHost } from "../../shared/network-guard.js";
import { targetRefusalMessage } from "./target-refusal.js";

const MAX_REDIRECTS = 3;

/**
 * Downloads `audio_url` for the caller: http(s) only, public addresses only (checked again at every redirect),
 * a byte cap enforced while streaming and a time limit.
 */
export async function fetchAudioUrl(
  raw: string,
  options: { maxBytes: number; timeoutMs: number; allowList: string[]; resolveHost?: ResolveHost; fetch?: typeof fetch },
): Promise<{ bytes: Uint8Array; filename: string | null }> {
  const doFetch = options.fetch ?? fetch;
  const signal = AbortSignal.timeout(options.timeoutMs);
  let url = raw;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let target: URL;
    try {
      target = await checkOutboundUrl(url, options.allowList, options.resolveHost);
    } catch (error) {
      if (error instanceof TargetRejected) throw new ApiError("invalid_audio_url", targetRefusalMessage("audio_url", error));
      throw error;
    }
    let response: Response;
    try {
      response = await doFetch(target, { redirect: "manual", signal });
    } catch (error) {
      throw new ApiError("audio_url_unreachable", `audio_url could not be fetched: ${(error as Error).message}`);
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await discardBody(response);
      // new URL() throws a TypeError on a Location that is not a URL: that was a 500.
      if (!URL.canParse(location, target.href)) throw new ApiError("invalid_audio_url", "audio_url redirected to something that is not a URL");
      url = new URL(location, target).toString();
      continue;
    }
    if (!response.ok || !response.body) {
      await discardBody(response);
      throw new ApiError("audio_url_unreachable", `audio_url answered HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > options.maxBytes) {
      await discardBody(response);
      throw new ApiError("file_too_large", `audio_url holds ${declared} bytes; at most ${options.maxBytes} are accepted`);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    const reader = response.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new ApiError("audio_url_unreachable", `audio_url download failed: ${(error as Error).message}`);
      }
      if (chunk.done) break;
      total += chunk.value.length;
      if (total > options.maxBytes) {
        await reader.cancel();
        throw new ApiError("file_too_large", `audio_url holds more than ${options.maxBytes} bytes`);
      }
      parts.push(chunk.value);
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    const name = target.pathname.split("/").pop() || null;
    return { bytes, filename: name };
  }
  throw new ApiError("audio_url_unreachable", `audio_url redirected more than ${MAX_REDIRECTS} times`);
}

/** A body nobody reads keeps its connection open (undici frees it only on GC): cancel it instead. */
async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
