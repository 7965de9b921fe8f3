/**
 * The one SSRF guard (shared/network-guard.ts, and its connect-time half shared/adapters/guarded-fetch.ts):
 * every non-public address form is refused, IPv6 forms that carry an IPv4 address included, and a name that
 * resolves differently at connect time (DNS rebinding) cannot take the connection to a private address.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { createGuardedFetch } from "../../shared/adapters/guarded-fetch.js";
import { checkOutboundUrl, isNonPublicAddress, TargetRejected } from "../../shared/network-guard.js";
import { fetchAudioUrl } from "../../edge/upload/fetch-audio-url.js";
import { vector, vectors } from "./vectors.js";

const NON_PUBLIC_ADDRESSES = [
  "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "192.88.99.1", "255.255.255.255",
  "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
  // IPv6 forms that embed an IPv4 address
  "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1", "::7f00:1", "::a9fe:a9fe", "::ffff:0:127.0.0.1", "::ffff:0:a9fe:a9fe",
  "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::1",
  "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1", "fed0::1", "feff::1", "100::1", "2001:10::1", "2001:2::1", "3fff::1",
  "fe80::1%eth0", "not-an-address",
];
const PUBLIC_ADDRESSES = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"];

const URL_FORMS = [
  "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[::127.0.0.1]/",
  "http://[64:ff9b::169.254.169.254]/latest/meta-data", "http://[2002:7f00:1::]/", "http://[fec0::1]/", "http://localhost./", "http://LOCALHOST/",
  "http://metadata.google.internal/", "http://printer.local/", "file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@example.com/",
];

describe("SSRF guard: address forms", () => {
  vectors(NON_PUBLIC_ADDRESSES, (a) => `address ${a} is refused`, (address) => {
    expect(isNonPublicAddress(address)).toBe(true);
  });
  vectors(PUBLIC_ADDRESSES, (a) => `public address ${a} stays reachable`, (address) => {
    expect(isNonPublicAddress(address)).toBe(false);
  });
  vectors(URL_FORMS, (u) => `URL ${u} is refused`, async (url) => {
    await expect(checkOutboundUrl(url, [])).rejects.toBeInstanceOf(TargetRejected);
  });
  vector("a name with one private record among public ones is refused", async () => {
    await expect(checkOutboundUrl("https://mixed.example/", [], async () => ["93.184.216.34", "::ffff:10.0.0.1"])).rejects.toBeInstanceOf(TargetRejected);
  });
});

describe("SSRF guard: connect-time resolution (DNS rebinding)", () => {
  let server: Server;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "audio/wav" }).end("RIFF");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  vector("a name that resolves public at check time and to loopback at connect time reaches nothing", async () => {
    // What an attacker's DNS server does: a public answer for the check, 127.0.0.1 (TTL 0) for the fetch.
    let lookups = 0;
    const rebinding = async () => (lookups++ === 0 ? ["93.184.216.34"] : ["127.0.0.1"]);
    const guardedFetch = createGuardedFetch([], async (host) => (await rebinding()).map((address) => ({ address, family: 4 })));
    const before = hits;
    const error = await fetchAudioUrl(`http://rebind.example:${port}/a.wav`, {
      maxBytes: 1000,
      timeoutMs: 5000,
      allowList: [],
      resolveHost: rebinding,
      fetch: guardedFetch,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "audio_url_unreachable" });
    expect(hits).toBe(before);
    expect(lookups).toBe(2); // checked once, resolved once more by the socket, which refused what it got
  });

  vector("the guarded fetch connects to an allow-listed address it checked", async () => {
    const guardedFetch = createGuardedFetch(["127.0.0.1"], async () => [{ address: "127.0.0.1", family: 4 }]);
    const res = await guardedFetch(`http://allowed.example:${port}/a.wav`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("RIFF");
  });

  vector("the guarded fetch refuses a private address for a name that is not allow-listed", async () => {
    const guardedFetch = createGuardedFetch([], async () => [{ address: "127.0.0.1", family: 4 }]);
    await expect(guardedFetch(`http://evil.example:${port}/`)).rejects.toThrow();
  });
});
