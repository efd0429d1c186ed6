// The lab's own Prometheus metrics, beside the load balancer's on the control API's GET /metrics:
// the order queue (Article 4's CloudWatch view of SQS: depth, in flight, dead letters, oldest age)
// and the recovery worker's counters and restarts. Read at scrape time, from the lab's direct
// client of the store, so they are as fresh as the scrape and cost nothing between scrapes.
import type { MessageQueue, QueueStats } from '../services/queue/message-queue.ts';
import type { RecoveryWorkerCounters, RecoveryWorkerStatus } from './recovery-worker/index.ts';

/** What the lab's metrics are read from (a Lab has both). */
export interface LabMetricsSource {
  /** The lab's own client of the order queue; undefined: the lab runs none, and no queue series is written. */
  queue: MessageQueue | undefined;
  /** The recovery worker; undefined: the lab runs none. */
  recoveryWorker: { status(): RecoveryWorkerStatus } | undefined;
}

/**
 * The most a scrape waits for the queue's stats. A store that does not answer (cut by an
 * experiment, or down) must not hold the scrape past a scraper's own timeout (Prometheus: 10 s),
 * or it loses the load balancer's series with it: past the bound the queue's series are left out
 * and chaos_lab_queue_up says 0, rather than stale numbers that would look like a queue that
 * stopped moving.
 */
const QUEUE_STATS_TIMEOUT_MS = 1000;

// The worker's counters as metric names (snake case, `_total`), with their help.
const WORKER_COUNTERS: ReadonlyArray<[keyof RecoveryWorkerCounters, string, string]> = [
  ['received', 'received', 'Messages received by the recovery worker (a redelivery counts again)'],
  ['committed', 'committed', 'Queued orders the recovery worker placed'],
  ['replayed', 'replayed', 'Messages whose key was already answered: the first answer again'],
  ['rejected', 'rejected', 'Business rejections (unknown product, stock, key reused): final, deleted'],
  ['deadLettered', 'dead_lettered', 'Bodies that are not orders, moved to the dead-letter queue'],
  ['transientFailures', 'transient_failures', 'Messages left for redelivery because the database was away'],
  ['errors', 'errors', 'Messages left for redelivery after any other failure'],
  ['staleReceipts', 'stale_receipts', 'Settlements refused because a later delivery held the message'],
];

/** The lab's metrics in Prometheus text (empty when the lab has neither a queue nor a worker). */
export async function labMetricsText(source: LabMetricsSource, timeoutMs = QUEUE_STATS_TIMEOUT_MS): Promise<string> {
  const lines: string[] = [];
  const write = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  if (source.queue) {
    const stats = await statsWithin(source.queue, timeoutMs);
    write('chaos_lab_queue_up', 'gauge', 'Whether the order queue answered this scrape within its bound (1) or not (0: its series are left out)', stats ? 1 : 0);
    if (stats) {
      write('chaos_lab_queue_depth', 'gauge', 'Order queue: messages waiting to be received (SQS ApproximateNumberOfMessagesVisible)', stats.depth);
      write('chaos_lab_queue_in_flight', 'gauge', 'Order queue: messages received and not yet deleted (ApproximateNumberOfMessagesNotVisible)', stats.inFlight);
      write('chaos_lab_queue_dead_letters', 'gauge', 'Order queue: messages in its dead-letter queue', stats.deadLetters);
      // 0 for an empty queue, as CloudWatch's ApproximateAgeOfOldestMessage says.
      write('chaos_lab_queue_oldest_age_seconds', 'gauge', 'Order queue: age of its oldest message (0 when empty)', (stats.oldestAgeMs ?? 0) / 1000);
    }
  }
  const worker = source.recoveryWorker?.status();
  if (worker) {
    write('chaos_lab_recovery_worker_up', 'gauge', 'Whether a recovery worker process is running (0 between a death and its restart)', worker.running ? 1 : 0);
    write('chaos_lab_recovery_worker_restarts_total', 'counter', 'Times the recovery worker was started again after dying', worker.restarts);
    for (const [field, name, help] of WORKER_COUNTERS) write(`chaos_lab_recovery_worker_${name}_total`, 'counter', help, worker.counters[field]);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The queue's stats, or undefined when the store failed or did not answer within `timeoutMs`. */
async function statsWithin(queue: MessageQueue, timeoutMs: number): Promise<QueueStats | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, timeoutMs, undefined)));
  try {
    return await Promise.race([queue.stats().catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
