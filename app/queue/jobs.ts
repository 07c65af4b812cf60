import webhooksConfig from '#config/webhooks'
import type { JobSpec, QueueDefinition } from '#queue/queues'

/**
 * Every job of the application, once: its name (stored in the outbox and
 * in job ids), its queue, its options, and the `pending` rows the sweeper
 * scans for it. Producers (services, the webhook recorder) and the sweeper
 * read this catalog; the worker runs each job with the handler that
 * app/jobs/main.ts gives it. Adding a job means adding it here and its
 * handler there.
 */
export const JOBS = {
  'confirm-order': { name: 'confirm-order', queue: 'orders', pendingTable: 'orders' },
  'restore-stock': { name: 'restore-stock', queue: 'orders' },
  'apply-adjustment': {
    name: 'apply-adjustment',
    queue: 'stock-adjustments',
    pendingTable: 'stock_adjustments',
  },
  'deliver-webhook': {
    name: 'deliver-webhook',
    queue: 'webhooks',
    pendingTable: 'webhook_deliveries',
    // Retried for as long as the delivery says (its retry window, 24 hours
    // by default), with the delay the handler computed (see QUEUES). A
    // finished delivery is in webhook_deliveries: Redis keeps only the last
    // minute's completed jobs (for queue:status), at most 1,000, not an
    // hour's worth at hundreds per second. A job published again after its
    // delivery is final finds it so and completes (`skipped`).
    options: {
      attempts: 1_000_000,
      backoff: { type: 'webhook' },
      removeOnComplete: { age: 60, count: 1_000 },
    },
  },
} satisfies Record<string, JobSpec>

export type AppJobName = keyof typeof JOBS

/**
 * The queues, and each one's share of the worker's concurrency.
 */
export const QUEUES = {
  'orders': { concurrency: (workers) => workers },
  'stock-adjustments': { concurrency: (workers) => Math.max(1, Math.ceil(workers / 4)) },
  // HTTP-bound, no database connection held during the call: its own
  // concurrency (WEBHOOK_CONCURRENCY, several times the orders'), per
  // endpoint and tenant limited by slots (app/webhooks/slots.ts).
  // A backlog drains at WEBHOOK_CONCURRENCY; while the queue keeps up,
  // WEBHOOK_STEADY_CONCURRENCY (lower: bursts queue in Redis, in fairness
  // order, instead of all contending at once).
  'webhooks': {
    concurrency: () => webhooksConfig.concurrency,
    steadyConcurrency: () => webhooksConfig.steadyConcurrency,
    settings: {
      backoffStrategy: (_attempts, _type, error) =>
        (error as { delayMs?: number } | undefined)?.delayMs ?? webhooksConfig.backoffBaseMs,
    },
  },
} satisfies Record<string, QueueDefinition>

export const QUEUE_NAMES = Object.keys(QUEUES)
