import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env.js";
import { dashboardAsset, dashboardPage } from "./assets.js";
import { isAdminToken, isSignedIn, signIn, signOut } from "./session.js";

export interface DashboardOptions {
  /** Without an admin token the dashboard does not exist, like the admin API. */
  adminToken?: string;
  /** The JSON the page polls (the same as GET /v1/admin/metrics/series). */
  series: () => Promise<unknown>;
}

// Scripts and styles from this origin only; uPlot sizes its elements through the CSSOM, which CSP allows.
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

async function loginPage(c: Context<AppEnv>, status: 200 | 401, error?: string): Promise<Response> {
  const html = (await dashboardPage("login")).replace("<!--error-->", error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "");
  return c.body(html, status, PAGE_HEADERS);
}

/** GET /dashboard (sign-in form or the live page), its assets, sign-in/out, and the JSON it polls. */
export function dashboardRoutes(app: Hono<AppEnv>, options: DashboardOptions): void {
  const { adminToken } = options;
  if (!adminToken) return; // the app's not-found answer, as for /v1/admin/*

  app.get("/dashboard/", (c) => c.redirect("/dashboard", 301));
  app.get("/dashboard", async (c) => (isSignedIn(c, adminToken) ? c.body(await dashboardPage("dashboard"), 200, PAGE_HEADERS) : loginPage(c, 200)));

  app.post("/dashboard/login", bodyLimit({ maxSize: 4096, onError: (c) => c.text("request too large", 413) }), async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!isAdminToken(token, adminToken)) return loginPage(c, 401, "That is not the admin token.");
    signIn(c, adminToken);
    return c.redirect("/dashboard", 303);
  });
  app.post("/dashboard/logout", (c) => {
    signOut(c);
    return c.redirect("/dashboard", 303);
  });

  // Static files hold no secrets; the sign-in page needs the stylesheet before anyone is signed in.
  app.get("/dashboard/assets/:name", async (c) => {
    const asset = await dashboardAsset(c.req.param("name"));
    if (!asset) return c.json({ error: { code: "not_found", message: "no such asset" } }, 404);
    return c.body(asset.body, 200, { "content-type": asset.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  });

  app.get("/dashboard/api/series", async (c) => {
    if (!isSignedIn(c, adminToken)) return c.json({ error: { code: "unauthorized", message: "sign in at /dashboard" } }, 401);
    c.header("cache-control", "no-store");
    return c.json(await options.series());
  });
}
