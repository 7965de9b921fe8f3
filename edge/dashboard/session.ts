import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

/**
 * Dashboard sign-in. The admin token is typed once into a form (POST, so it never sits in a URL, a history or an
 * access log); the browser then holds an HttpOnly, SameSite=Strict cookie scoped to /dashboard whose value is an
 * HMAC of a fixed label under the admin token — proof of the token, not the token, and void once it rotates.
 * Scripts may send `Authorization: Bearer <admin token>` instead.
 */
export const SESSION_COOKIE = "asr_dashboard";
const SESSION_LABEL = "asr-dashboard-session-v1";
const SESSION_SECONDS = 12 * 3600;

/** Equal-length digests, so timingSafeEqual applies to secrets of any length. */
const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());

export const sessionValue = (adminToken: string): string => createHmac("sha256", adminToken).update(SESSION_LABEL).digest("base64url");

export const isAdminToken = (candidate: string, adminToken: string): boolean => sameSecret(candidate, adminToken);

/** A valid session cookie or admin bearer token. */
export function isSignedIn(c: Context, adminToken: string): boolean {
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie !== undefined && sameSecret(cookie, sessionValue(adminToken))) return true;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  return bearer !== null && sameSecret(bearer[1], adminToken);
}

const isHttps = (c: Context): boolean => new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";

export function signIn(c: Context, adminToken: string): void {
  setCookie(c, SESSION_COOKIE, sessionValue(adminToken), {
    path: "/dashboard",
    httpOnly: true,
    sameSite: "Strict",
    secure: isHttps(c),
    maxAge: SESSION_SECONDS,
  });
}

export function signOut(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/dashboard", secure: isHttps(c) });
}
