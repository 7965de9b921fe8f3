/**
 * Web origins as browsers send them in the `Origin` header: `scheme://host[:port]`, lower-case, no path and no
 * default port. Pure, shared by the config schema, the CORS middleware and browser tokens.
 */

/** The origin `text` names, written the way a browser writes it, or null when it is not a bare http(s) origin. */
export function canonicalOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  // A path, query, credentials or fragment means the text is a URL, not an origin: refuse rather than guess.
  if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) return null;
  return url.origin;
}

/** A configured entry: "*" (any origin) or an origin. */
export const isOriginPattern = (text: string): boolean => text === "*" || canonicalOrigin(text) !== null;

/** Whether `origin` is one of `allowed` ("*" allows every origin). `allowed` holds canonical origins or "*". */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes("*") || allowed.includes(origin);
}
