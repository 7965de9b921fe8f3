import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../shared/logger.js";
import { webhookReceiver } from "../support/stack.js";
import { shortWav, speechWav, startObservedStack, type ObservedStack } from "./observed-stack.js";

/**
 * Every line the edge (both of them) and the worker log, at debug level, plus anything written to the console,
 * while keys are created and revoked, audio is uploaded with `Authorization`, webhooks are signed and retried and
 * the admin token opens /metrics and the dashboard. No line may hold a secret, whole or in part.
 */
describe("no secret reaches the logs", () => {
  const lines: string[] = [];
  const adminToken = `adm_${randomBytes(24).toString("hex")}`;
  let stack: ObservedStack;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  const secrets = new Map<string, string>();
  const consoleSpies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    }),
  );

  beforeAll(async () => {
    // The receiver fails the first attempt, so the retry path logs too.
    hooks = await webhookReceiver((n) => (n === 1 ? 500 : 200));
    const logger = createLogger({}, { level: "debug", write: (line) => lines.push(line) });
    stack = await startObservedStack("postgres", {}, logger, adminToken);
    secrets.set("admin token", adminToken);
    secrets.set("bootstrap API key", stack.apiKey);
    secrets.set("bootstrap webhook secret", stack.webhookSecret);

    // Key creation through the admin API.
    const created = await stack.adminRequest("/v1/admin/keys", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "customer" }) });
    expect(created.status).toBe(201);
    const { id, key, webhook_secret } = (await created.json()) as { id: string; key: string; webhook_secret: string };
    secrets.set("API key", key);
    secrets.set("webhook secret", webhook_secret);

    // Uploads with the key in Authorization, one with a signed webhook that is retried once.
    expect((await stack.transcribe(speechWav, { key, webhookUrl: hooks.url })).status).toBe("completed");
    expect((await stack.transcribe(shortWav, { key })).status).toBe("completed");
    const deadline = Date.now() + 15_000;
    while (hooks.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(hooks.received).toHaveLength(2);
    hooks.received.forEach((hook, i) => secrets.set(`webhook signature ${i + 1}`, String(hook.headers["webhook-signature"]).replace(/^v1,/, "")));

    // Rejected requests: not audio, a key that does not exist, a wrong admin token, a malformed header.
    const junk = new FormData();
    junk.append("file", new Blob([randomBytes(2048)], { type: "audio/wav" }), "junk.wav");
    expect((await fetch(`${stack.admin.url}/v1/transcriptions`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: junk })).status).toBe(415);
    const unknownKey = `sk_live_${randomBytes(24).toString("hex").slice(0, 32)}`;
    secrets.set("unknown API key", unknownKey);
    expect((await fetch(`${stack.admin.url}/v1/transcriptions`, { headers: { Authorization: `Bearer ${unknownKey}` } })).status).toBe(401);
    expect((await fetch(`${stack.admin.url}/v1/transcriptions`, { headers: { Authorization: `Basic ${key}` } })).status).toBe(401);
    const wrongAdmin = `adm_${randomBytes(24).toString("hex")}`;
    secrets.set("wrong admin token", wrongAdmin);
    expect((await fetch(`${stack.admin.url}/v1/admin/keys`, { headers: { Authorization: `Bearer ${wrongAdmin}` } })).status).toBe(401);

    // A browser token: minted, used, revoked, then refused.
    const minted = await fetch(`${stack.admin.url}/v1/tokens`, { method: "POST", headers: { Authorization: `Bearer ${key}` } });
    expect(minted.status).toBe(201);
    const browser = (await minted.json()) as { id: string; token: string };
    secrets.set("browser token", browser.token);
    expect((await fetch(`${stack.admin.url}/v1/uploads`, { method: "POST", headers: { Authorization: `Bearer ${browser.token}` } })).status).toBe(200);
    expect((await fetch(`${stack.admin.url}/v1/tokens/${browser.id}`, { method: "DELETE", headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${stack.admin.url}/v1/uploads`, { method: "POST", headers: { Authorization: `Bearer ${browser.token}` } })).status).toBe(401);

    // Observability itself: /metrics, the recommendations, the dashboard sign-in (right and wrong token).
    expect((await stack.adminRequest("/metrics")).status).toBe(200);
    expect((await stack.adminRequest("/v1/admin/recommendations")).status).toBe(200);
    const signIn = await fetch(`${stack.admin.url}/dashboard/login`, { method: "POST", body: new URLSearchParams({ token: adminToken }), redirect: "manual" });
    expect(signIn.status).toBe(303);
    const cookie = /asr_dashboard=([^;]+)/.exec(signIn.headers.get("set-cookie") ?? "")?.[1] ?? "";
    secrets.set("dashboard session", cookie);
    expect((await fetch(`${stack.admin.url}/dashboard/api/series`, { headers: { Cookie: `asr_dashboard=${cookie}` } })).status).toBe(200);
    expect((await fetch(`${stack.admin.url}/dashboard/login`, { method: "POST", body: new URLSearchParams({ token: wrongAdmin }) })).status).toBe(401);

    // Revocation, then the revoked key tried again.
    expect((await stack.adminRequest(`/v1/admin/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await fetch(`${stack.admin.url}/v1/transcriptions`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(401);
    await stack.worker.observability.heartbeat.tick();
  }, 120_000);

  afterAll(async () => {
    consoleSpies.forEach((spy) => spy.mockRestore());
    await stack?.stop();
    await hooks?.close();
  });

  it("logged what happened (so the check below has something to look at)", () => {
    const messages = lines.flatMap((l) => (l.startsWith("{") ? [(JSON.parse(l) as { msg: string }).msg] : []));
    for (const expected of ["api key created", "job created", "job completed", "webhook attempt", "api key revoked", "browser token minted", "browser token revoked"]) {
      expect(messages).toContain(expected);
    }
    expect(lines.filter((l) => l.includes('"webhook attempt"'))).toHaveLength(2); // the 500, then the retry that succeeded
    expect(secrets.size).toBe(11);
    for (const [name, secret] of secrets) expect(secret.length, name).toBeGreaterThanOrEqual(20);
  });

  it("never holds a secret, nor any 12-character piece of one", () => {
    const text = lines.join("\n");
    for (const [name, secret] of secrets) {
      // The fixed prefixes (sk_live_, whsec_, adm_, bt_) are no secret; every window of the random part is.
      const body = secret.replace(/^(sk_live_|sk_test_|whsec_|adm_|bt_)/, "");
      for (let i = 0; i + 12 <= body.length; i++) {
        const piece = body.slice(i, i + 12);
        expect(text.includes(piece), `${name} (…${piece}…) appears in the logs`).toBe(false);
      }
    }
  });
});
