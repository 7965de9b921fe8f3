import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import { connect, type Socket } from "cloudflare:sockets";

/**
 * postgres.js's socket on workerd, given through its `socket` option. Its built-in one keeps a read pending
 * when the client closes the socket, and on every sql.end() that read's cancellation escapes as an unhandled
 * "Stream was cancelled" (postgres.js issue #1202). This one treats the cancellation it caused as the end.
 * Plain TCP only: Hyperdrive speaks TLS to the database; the Worker's hop to Hyperdrive needs none.
 */
export async function openPgSocket(options: { host: string[]; port: number[] }): Promise<PgSocket> {
  const raw = connect({ hostname: options.host[0] ?? "localhost", port: options.port[0] ?? 5432 });
  await raw.opened;
  return new PgSocket(raw);
}

/** The slice of node:net's Socket that postgres.js uses once connected. */
export class PgSocket extends EventEmitter {
  readyState: "open" | "closed" = "open";
  private closing = false;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(private readonly raw: Socket) {
    super();
    this.writer = raw.writable.getWriter();
    void this.readAll(raw.readable.getReader());
  }

  write(data: Uint8Array, callback?: () => void): boolean {
    this.writer.write(data).then(callback, (error: unknown) => this.fail(error));
    return true; // no backpressure to report: the writer queues
  }

  end(data?: Uint8Array): void {
    this.closing = true;
    const close = () => void this.raw.close().catch(() => undefined);
    if (data) this.write(data, close);
    else close();
  }

  destroy(): void {
    this.end();
  }

  private async readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) this.emit("data", Buffer.from(chunk.value));
    } catch (error) {
      if (!this.closing) this.fail(error);
    }
    this.finish();
  }

  private fail(error: unknown): void {
    // postgres.js removes its listeners once the socket has closed; an unheard "error" event would throw.
    if (this.readyState === "open" && this.listenerCount("error") > 0) this.emit("error", error);
    this.finish();
  }

  private finish(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.emit("close");
  }
}
