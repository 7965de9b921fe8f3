import type { TargetRejected } from "../../shared/network-guard.js";

/**
 * The refusal of a webhook_url or audio_url, naming the setting that allows a private target: someone testing
 * against a server on their own machine should learn how to allow it, not only that it was refused.
 */
export function targetRefusalMessage(field: "webhook_url" | "audio_url", error: TargetRejected): string {
  const message = `${field} refused: ${error.message}`;
  if (!error.privateHost) return message;
  return `${message}. To allow it for local testing, start the service with ALLOW_PRIVATE_TARGETS=${error.privateHost} (network.allowPrivateTargets in service.config.json)`;
}
