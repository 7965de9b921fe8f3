import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { jobs, outbox } from "../../db/schema.js";
import type { SqsJobQueue } from "../../shared/adapters/sqs.js";
import type { JobMessage } from "../../shared/queue.js";

export interface NodeInspector {
  url: string;
  close(): Promise<void>;
}

/**
 * A small HTTP server on the Node side that the workerd tests ask what really happened, through clients of
 * its own: the AWS SDK receives from the SQS emulator, postgres.js on Node reads the rows.
 *   GET /sqs/messages/{jobId} → the message body sent for that job (waits up to 5 s), or 404
 *   GET /db/jobs/{id}         → { job, outbox } or 404
 * Messages are received into a list on this side and deleted from the queue, so test files running side by
 * side each find their own.
 */
export async function startNodeInspector(db: Db, queue: SqsJobQueue): Promise<NodeInspector> {
  const server: Server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    handle(request.method ?? "GET", request.url ?? "/")
      .then(([status, body]) => reply(status, body))
      .catch((error: unknown) => reply(500, { error: String(error) }));
  });

  const received: JobMessage[] = [];
  async function messageFor(jobId: string, deadline: number): Promise<JobMessage | undefined> {
    for (;;) {
      const found = received.find((m) => m.jobId === jobId);
      if (found || Date.now() > deadline) return found;
      for (const message of await queue.receive(10, 1)) {
        received.push(JSON.parse(message.body) as JobMessage);
        await queue.delete(message.receiptHandle);
      }
    }
  }

  async function handle(method: string, path: string): Promise<[number, unknown]> {
    const message = /^\/sqs\/messages\/([a-z0-9_]+)$/.exec(path);
    if (method === "GET" && message) {
      const found = await messageFor(message[1], Date.now() + 5000);
      return found ? [200, found] : [404, { error: "no message for this job" }];
    }
    const job = /^\/db\/jobs\/([a-z0-9_]+)$/.exec(path);
    if (method === "GET" && job) {
      const [row] = await db.select().from(jobs).where(eq(jobs.id, job[1]));
      if (!row) return [404, { error: "no such job" }];
      const messages = await db.select().from(outbox).where(eq(outbox.jobId, job[1]));
      return [200, { job: row, outbox: messages }];
    }
    return [404, { error: `no route ${method} ${path}` }];
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
