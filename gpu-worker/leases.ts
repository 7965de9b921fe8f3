import type { Logger } from "../shared/logger.js";
import type { JobQueueReceiver, ReceivedMessage } from "../shared/queue.js";

/** A message this worker holds: kept invisible to other workers until it is acknowledged or released. */
export interface Lease {
  message: ReceivedMessage;
  jobId: string | null;
  receivedAt: number;
}

/**
 * The messages in hand. Each one's visibility is extended every half timeout while its job is queued or
 * running, so a long job is not redelivered to another worker; a crash stops the extensions and SQS hands
 * the message out again.
 */
export class MessageLeases {
  private readonly timers = new Map<Lease, NodeJS.Timeout>();

  constructor(
    private readonly queue: JobQueueReceiver,
    private readonly visibilitySeconds: number,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.timers.size;
  }

  hold(message: ReceivedMessage, jobId: string | null): Lease {
    const lease: Lease = { message, jobId, receivedAt: Date.now() };
    const timer = setInterval(() => {
      this.queue.setVisibility(message.receiptHandle, this.visibilitySeconds).catch((error: unknown) => {
        this.logger.warn("visibility extension failed", { jobId, error });
      });
    }, (this.visibilitySeconds * 1000) / 2);
    timer.unref();
    this.timers.set(lease, timer);
    return lease;
  }

  private drop(lease: Lease): boolean {
    const timer = this.timers.get(lease);
    if (!timer) return false;
    clearInterval(timer);
    this.timers.delete(lease);
    return true;
  }

  /** Done with it for good: delete the message. */
  async ack(lease: Lease): Promise<void> {
    if (this.drop(lease)) await this.queue.delete(lease.message.receiptHandle);
  }

  /** Hand it back now (visibility 0): another receive, here or elsewhere, gets it again. */
  async release(lease: Lease): Promise<void> {
    if (this.drop(lease)) await this.queue.setVisibility(lease.message.receiptHandle, 0);
  }

  /** Stop extending but leave the message to time out (e.g. after a failure we want retried later). */
  forget(lease: Lease): void {
    this.drop(lease);
  }

  held(): Lease[] {
    return [...this.timers.keys()];
  }
}
