/**
 * SSRF guard for URLs the service fetches or posts to on a user's behalf (webhook_url, audio_url): only
 * http(s), and never private, loopback, link-local or otherwise non-public addresses unless allow-listed.
 * Pure except for the injected resolver, so it runs on Workers (literal checks) and Node (DNS too).
 */
export type ResolveHost = (host: string) => Promise<string[]>;

export class TargetRejected extends Error {
  override name = "TargetRejected";
  /** Set when the target is refused only for being private: the host the allow-list would have to name. */
  constructor(
    message: string,
    readonly privateHost?: string,
  ) {
    super(message);
  }
}

function ipv4ToInt(ip: string): number | null {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

const V4_BLOCKED: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24],
  ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText ?? "32");
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  if (a === null || b === null) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** Expands an IPv6 literal to 8 groups, or null. Handles :: and an embedded IPv4 tail. */
function ipv6Groups(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const n = ipv4ToInt(v4[1]);
    if (n === null) return null;
    text = text.slice(0, -v4[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array(Math.max(fill, 0)).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isFinite(g)) ? groups : null;
}

const embeddedV4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * True for every address the service must not reach on a caller's behalf. IPv6 forms that carry an IPv4
 * address (mapped, compatible, translated, NAT64, 6to4) are judged by the IPv4 address inside them, so
 * `[::ffff:127.0.0.1]`, `[::127.0.0.1]`, `[64:ff9b::a9fe:a9fe]` or `[2002:7f00:1::]` cannot reach loopback or
 * metadata services; Teredo and the deprecated site-local range are refused outright.
 */
export function isNonPublicAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, "");
  if (ipv4ToInt(bare) !== null) return V4_BLOCKED.some(([base, bits]) => inCidr(bare, `${base}/${bits}`));
  if (bare.includes("%")) return true; // a zone id only makes sense for link-local addresses
  const g = ipv6Groups(bare);
  if (!g) return true; // not an address we understand: refuse
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return true; // ::
  if (zeros(0, 7) && g[7] === 1) return true; // ::1
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), ::ffff:0:a.b.c.d (translated)
  if (zeros(0, 5) && g[5] === 0xffff) return isNonPublicAddress(embeddedV4(g[6], g[7]));
  if (zeros(0, 6)) return isNonPublicAddress(embeddedV4(g[6], g[7]));
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return isNonPublicAddress(embeddedV4(g[6], g[7]));
  // NAT64: 64:ff9b::/96 (well-known) and 64:ff9b:1::/48 (local use, RFC 8215)
  if (g[0] === 0x64 && g[1] === 0xff9b) return g[2] === 1 || !zeros(2, 6) || isNonPublicAddress(embeddedV4(g[6], g[7]));
  if (g[0] === 0x2002) return isNonPublicAddress(embeddedV4(g[1], g[2])); // 6to4
  if (g[0] === 0x2001 && g[1] === 0) return true; // Teredo: the client address inside is obfuscated
  if (g[0] === 0x2001 && (g[1] & 0xfff0) === 0x0010) return true; // ORCHID 2001:10::/28
  if (g[0] === 0x2001 && g[1] === 0x0002 && g[2] === 0) return true; // benchmarking 2001:2::/48
  if (g[0] === 0x0100 && zeros(1, 4)) return true; // discard-only 100::/64
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((g[0] & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local (deprecated, still routed inside some networks)
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (g[0] === 0x3fff && (g[1] & 0xf000) === 0) return true; // documentation 3fff::/20
  return false;
}

const isIpLiteral = (host: string): boolean => ipv4ToInt(host) !== null || host.startsWith("[") || host.includes(":");

function allowed(host: string, address: string | null, allowList: string[]): boolean {
  return allowList.some((entry) => entry === host || (address !== null && (entry === address || (entry.includes("/") && inCidr(address, entry)))));
}

/** Throws TargetRejected with a reason, or returns the parsed URL. */
export async function checkOutboundUrl(raw: string, allowList: string[], resolve?: ResolveHost): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRejected("not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TargetRejected(`scheme ${url.protocol} is not allowed; use http or https`);
  if (url.username || url.password) throw new TargetRejected("URLs with credentials are not allowed");
  // A trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.+$/, "").toLowerCase();
  if (allowed(host, isIpLiteral(host) ? host : null, allowList)) return url;
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal") || host.endsWith(".local")) {
    throw new TargetRejected(`host ${host} is not public`, host);
  }
  if (isIpLiteral(host)) {
    if (isNonPublicAddress(host)) throw new TargetRejected(`address ${host} is private, loopback or link-local`, host);
    return url;
  }
  if (resolve) {
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      throw new TargetRejected(`host ${host} does not resolve`);
    }
    checkResolvedAddresses(host, addresses, allowList);
  }
  return url;
}

/** Throws TargetRejected unless every address `host` resolved to may be reached (one bad record is enough to refuse). */
export function checkResolvedAddresses(host: string, addresses: readonly string[], allowList: string[]): void {
  if (addresses.length === 0) throw new TargetRejected(`host ${host} does not resolve`);
  for (const address of addresses) {
    if (allowed(host, address, allowList)) continue;
    if (isNonPublicAddress(address)) throw new TargetRejected(`host ${host} resolves to non-public address ${address}`, host);
  }
}
