import { z } from "zod";

/** The SQS message body: only an id. Postgres holds the job; the queue only says "look at this one". */
export const jobMessageSchema = z.object({
  v: z.literal(1),
  jobId: z.string().min(1).max(128),
  enqueuedAt: z.string(),
});
export type JobMessage = z.infer<typeof jobMessageSchema>;

export const jobMessage = (jobId: string, now = new Date()): JobMessage => ({ v: 1, jobId, enqueuedAt: now.toISOString() });

/** Sending side (edge, outbox relay, sweeper). */
export interface JobQueue {
  send(message: JobMessage): Promise<void>;
}

/** A received message and the handle that acknowledges it. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** How many times SQS has handed this message out (ApproximateReceiveCount). */
  receiveCount: number;
}

/** Receiving side (GPU worker). */
export interface JobQueueReceiver {
  /** Long-polls; received messages stay invisible for `visibilitySeconds` (the queue's default when omitted). */
  receive(max: number, waitSeconds: number, signal?: AbortSignal, visibilitySeconds?: number): Promise<ReceivedMessage[]>;
  /** Keeps a message invisible for `seconds` more while it is being worked on (0 hands it back at once). */
  setVisibility(receiptHandle: string, seconds: number): Promise<void>;
  delete(receiptHandle: string): Promise<void>;
}
