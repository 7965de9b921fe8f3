/** Loopback hosts a local `npm start` lets audio_url and webhook_url reach, so the README's examples run offline. */
export const LOCAL_TARGETS = ["127.0.0.1", "localhost", "::1"] as const;

/**
 * What `npm start` allows: the configured list when there is one (ALLOW_PRIVATE_TARGETS or the config file),
 * otherwise this machine's loopback addresses. Production (edge/node.ts, Workers) keeps the empty default.
 */
export function localAllowPrivateTargets(configured: readonly string[]): string[] {
  return configured.length > 0 ? [...configured] : [...LOCAL_TARGETS];
}
