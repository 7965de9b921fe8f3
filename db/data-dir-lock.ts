import { open, readFile, rm, writeFile } from "node:fs/promises";

// PGlite opens a data directory that another PGlite already has open without complaint, and two writers
// corrupt it. A lock file next to the directory names the process that serves it and its URL.

export interface DataDirLock {
  /** Records the URL the directory is served at, for the error another process will see. */
  publish(url: string): Promise<void>;
  release(): Promise<void>;
}

interface LockContent {
  pid: number;
  url?: string;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = `${dataDir.replace(/[/\\]+$/, "")}.lock`;
  const content: LockContent = { pid: process.pid };
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, "wx");
      await file.writeFile(JSON.stringify(content));
      await file.close();
      break;
    } catch (error) {
      if (!isErrno(error, "EEXIST") || attempt > 0) throw error;
      const holder = await readLock(path);
      if (holder && isAlive(holder.pid)) {
        const where = holder.url ? ` at ${holder.url}; connect to that URL instead` : "";
        throw new Error(`PGlite data directory ${dataDir} is in use by process ${holder.pid}${where}`);
      }
      await rm(path, { force: true }); // left behind by a process that died
    }
  }
  return {
    async publish(url) {
      content.url = url;
      await writeFile(path, JSON.stringify(content));
    },
    async release() {
      const holder = await readLock(path);
      if (holder?.pid === process.pid) await rm(path, { force: true });
    },
  };
}

async function readLock(path: string): Promise<LockContent | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as LockContent;
  } catch {
    return undefined; // missing, or half written by a process that died
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, "EPERM"); // exists, owned by someone else
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
