import type { BrowserToken } from "../db/schema.js";
import { ApiError } from "../shared/api-error.js";
import type { Db } from "../db/client.js";
import { browserTokenOwns } from "./store/browser-tokens.js";

/**
 * What a browser token may put in POST /v1/transcriptions, checked before anything is fetched or stored: a file
 * or one of its own uploads. `audio_url` would make the server fetch for a web page, and webhooks (signed with the
 * key's secret) are the backend's to set.
 */
export async function checkBrowserTokenCreate(db: Db, token: BrowserToken, fields: Record<string, unknown>): Promise<void> {
  if (present(fields.audio_url)) throw new ApiError("forbidden", "a browser token cannot create jobs from audio_url: upload the file");
  if (present(fields.webhook_url)) throw new ApiError("forbidden", "a browser token cannot set webhook_url: webhooks are set by the key's backend");
  const uploadId = fields.upload_id;
  if (present(uploadId) && !(typeof uploadId === "string" && (await browserTokenOwns(db, token.id, uploadId)))) {
    throw new ApiError("not_found", "no such upload: a browser token may only use the uploads it created");
  }
}

const present = (value: unknown): boolean => value !== undefined && value !== null && value !== "";
