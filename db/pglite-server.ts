import { mkdir } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { lockDataDir } from "./data-dir-lock.js";

// Serves an embedded PGlite over the Postgres wire protocol, so every process talks to it with postgres.js.
//
// Not @electric-sql/pglite-socket's server: it hands PGlite from client to client between single protocol
// messages, so two clients' Parse/Bind/Execute interleave ("portal does not exist", rows sent to the wrong
// client, hangs). PGlite is one session; here a client holds it from its first message until PGlite answers
// ReadyForQuery "idle", i.e. for a whole Sync-terminated batch, a whole transaction or a whole COPY.
// Clients still share that one session: SET, search_path and temp tables are visible to all of them.

export interface PgliteServerOptions {
  /** Data directory, kept across restarts; "memory://" for a throwaway database. */
  dataDir: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Open client connections at most; each one is cheap, they take turns on the single session. */
  maxConnections?: number;
}

export interface PgliteServer {
  /** postgres:// URL for any client in any process on this machine. */
  readonly url: string;
  readonly port: number;
  readonly pglite: PGlite;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SYNC = Uint8Array.of(0x53, 0, 0, 0, 4);
const ROLLBACK = simpleQuery("ROLLBACK");
const TERMINATE = 0x58;

export async function startPgliteServer(options: PgliteServerOptions): Promise<PgliteServer> {
  const host = options.host ?? "127.0.0.1";
  const inMemory = options.dataDir.startsWith("memory://");
  const lock = inMemory ? undefined : await lockDataDir(options.dataDir);
  let pglite: PGlite | undefined;
  try {
    if (!inMemory) await mkdir(options.dataDir, { recursive: true });
    pglite = await PGlite.create({ dataDir: options.dataDir });
    const session = new SessionOwnership();
    const sockets = new Set<Socket>();
    const db = pglite;
    const server = createServer((socket) => {
      if (sockets.size >= (options.maxConnections ?? 64)) {
        socket.end(fatalError("53300", "too many connections to the embedded PGlite server"));
        return;
      }
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      serveClient(socket, db, session);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const url = `postgres://postgres@${host}:${port}/postgres`;
    await lock?.publish(url);
    let closing: Promise<void> | undefined;
    const close = async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
      await session.idle();
      await db.close();
      await lock?.release();
    };
    return { url, port, pglite: db, close: () => (closing ??= close()) };
  } catch (error) {
    await pglite?.close().catch(() => undefined);
    await lock?.release();
    throw error;
  }
}

/** Who holds PGlite's single session now, and who waits for it in arrival order. */
class SessionOwnership {
  private owner: object | undefined;
  private readonly waiting: Array<{ client: object; resume: () => void }> = [];

  async acquire(client: object): Promise<void> {
    if (this.owner === client) return;
    if (this.owner === undefined) {
      this.owner = client;
      return;
    }
    await new Promise<void>((resume) => this.waiting.push({ client, resume }));
  }

  release(client: object): void {
    if (this.owner !== client) return;
    const next = this.waiting.shift();
    this.owner = next?.client;
    next?.resume();
  }

  isOwner(client: object): boolean {
    return this.owner === client;
  }

  /** Resolves once nobody holds the session (used at shutdown). */
  async idle(): Promise<void> {
    const marker = {};
    await this.acquire(marker);
    this.release(marker);
  }
}

function serveClient(socket: Socket, pglite: PGlite, session: SessionOwnership): void {
  const client = {};
  const readiness = new ReadyForQueryWatcher();
  let pending: Buffer = Buffer.alloc(0);
  let started = false;
  let closed = false;
  // Messages of one client run in order; the chain is also what shutdown waits for.
  let work: Promise<void> = Promise.resolve();

  const run = async (message: Uint8Array): Promise<void> => {
    if (closed) return;
    await session.acquire(client);
    if (closed) return; // the close handler cleans up and releases
    readiness.expectAnswer();
    await pglite.runExclusive(() =>
      pglite.execProtocolRawStream(message, {
        onRawData: (chunk) => {
          readiness.observe(chunk);
          if (!socket.destroyed) socket.write(Buffer.from(chunk));
        },
      }),
    );
    if (readiness.idle) session.release(client);
  };

  // A client that vanished mid-batch or mid-transaction must not leave the shared session half used.
  const releaseAfterAbort = async (): Promise<void> => {
    if (!session.isOwner(client)) return;
    try {
      // Raw messages, not pglite.exec(): that would wait for the lock runExclusive holds.
      await pglite.runExclusive(async () => {
        await pglite.execProtocolRawStream(SYNC, { onRawData: () => undefined });
        if (pglite.isInTransaction()) await pglite.execProtocolRawStream(ROLLBACK, { onRawData: () => undefined });
      });
    } finally {
      session.release(client);
    }
  };

  const enqueue = (message: Uint8Array): void => {
    work = work.then(() => run(message)).catch(() => void socket.destroy());
  };

  socket.setNoDelay(true);
  socket.on("data", (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    for (;;) {
      if (!started) {
        if (pending.length < 8) return;
        const length = pending.readInt32BE(0);
        const code = pending.readInt32BE(4);
        if (pending.length < length) return;
        const packet = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write("N"); // no encryption on a loopback server
        } else if (code === CANCEL_REQUEST) {
          socket.end(); // cancelling a running query is not supported
          return;
        } else {
          started = true;
          enqueue(Uint8Array.from(packet));
        }
        continue;
      }
      if (pending.length < 5) return;
      const length = 1 + pending.readInt32BE(1);
      if (pending.length < length) return;
      const message = Uint8Array.from(pending.subarray(0, length));
      pending = pending.subarray(length);
      if (message[0] === TERMINATE) {
        socket.end();
        return;
      }
      enqueue(message);
    }
  });
  socket.on("error", () => socket.destroy());
  socket.once("close", () => {
    closed = true;
    work = work.then(releaseAfterAbort, releaseAfterAbort);
  });
}

/**
 * Follows the backend's message stream: the session is free again only when the last thing PGlite said was
 * ReadyForQuery with status 'I'. A message that gets no answer (Flush, Bind after an error) leaves it busy.
 */
class ReadyForQueryWatcher {
  idle = true;
  private header: number[] = [];
  private bodyLeft = 0;
  private inReadyForQuery = false;

  /** Called before each client message goes to PGlite. */
  expectAnswer(): void {
    this.idle = false;
  }

  observe(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.bodyLeft > 0) {
        // ReadyForQuery's body is its one status byte.
        if (this.inReadyForQuery) this.idle = chunk[offset] === 0x49; // 'I'
        const take = Math.min(this.bodyLeft, chunk.length - offset);
        this.bodyLeft -= take;
        offset += take;
        continue;
      }
      this.header.push(chunk[offset++]);
      if (this.header.length < 5) continue;
      const [type, a, b, c, d] = this.header;
      this.header = [];
      this.inReadyForQuery = type === 0x5a; // 'Z'
      this.idle = false;
      this.bodyLeft = ((a << 24) | (b << 16) | (c << 8) | d) - 4;
    }
  }
}

function simpleQuery(text: string): Uint8Array {
  const body = Buffer.from(`${text}\0`);
  const header = Buffer.alloc(5);
  header.write("Q", 0);
  header.writeInt32BE(4 + body.length, 1);
  return Uint8Array.from(Buffer.concat([header, body]));
}

function fatalError(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write("E", 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}
