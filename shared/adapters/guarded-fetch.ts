import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import { checkResolvedAddresses, TargetRejected } from "../network-guard.js";

/** How a host name becomes addresses; dns.lookup by default, replaceable in tests. */
export type LookupAll = (host: string) => Promise<LookupAddress[]>;

const systemLookupAll: LookupAll = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/**
 * The connect-time half of the SSRF guard (Node): the name is resolved once, by the socket's own lookup,
 * every address is checked, and the socket connects to the address that was checked. A DNS answer that
 * changes between `checkOutboundUrl` and the request (DNS rebinding) cannot take the connection elsewhere.
 */
export function guardedLookup(allowList: string[], lookupAll: LookupAll = systemLookupAll): LookupFunction {
  return (hostname, options, callback) => {
    const host = hostname.replace(/^\[|\]$/g, "");
    const resolved: Promise<LookupAddress[]> = isIP(host) ? Promise.resolve([{ address: host, family: isIP(host) }]) : lookupAll(host);
    resolved.then(
      (addresses) => {
        try {
          checkResolvedAddresses(host, addresses.map((a) => a.address), allowList);
        } catch (error) {
          return callback(error as NodeJS.ErrnoException, "", 0);
        }
        const wanted = options.family === 6 ? 6 : options.family === 4 ? 4 : 0;
        const usable = addresses.filter((a) => wanted === 0 || a.family === wanted);
        if (usable.length === 0) return callback(new TargetRejected(`host ${host} has no IPv${wanted} address`) as NodeJS.ErrnoException, "", 0);
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        callback(null, usable[0].address, usable[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

/**
 * `fetch` for URLs a caller chose (audio_url downloads, webhooks): same API as the global one, but every
 * connection goes through `guardedLookup`, so only checked public addresses are ever connected to.
 */
export function createGuardedFetch(allowList: string[], lookupAll?: LookupAll): typeof fetch {
  const dispatcher = new Agent({ connect: { lookup: guardedLookup(allowList, lookupAll) } });
  const guarded = (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher });
  return guarded as unknown as typeof fetch;
}
