// workerd's TCP sockets API (the part pg-socket.ts uses); @cloudflare/workers-types is not a dependency.
declare module "cloudflare:sockets" {
  export interface SocketAddress {
    hostname: string;
    port: number;
  }
  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<unknown>;
    readonly closed: Promise<void>;
    close(): Promise<void>;
  }
  export function connect(address: SocketAddress | string, options?: { secureTransport?: "off" | "on" | "starttls"; allowHalfOpen?: boolean }): Socket;
}
