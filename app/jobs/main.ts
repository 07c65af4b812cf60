import type { JobDefinition, JobRegistry, QueueDefinition } from '#queue/queues'
import webhooksConfig from '#config/webhooks'

/**
 * Every job of the application, in one place: its name (stored in the
 * outbox), its queue, its handler, and the `pending` rows the sweeper scans
 * for it. Adding a job means adding it here; the worker, the sweeper and the
 * queue commands read this registry (app/queue never imports app/jobs).
 */
export const JOBS = {
  'confirm-order': {
    name: 'confirm-order',
    queue: 'orders',
    handler: () => import('#jobs/confirm_order').then((module) => module.confirmOrder),
    pendingTable: 'orders',
  },
  'restore-stock': {
    name: 'restore-stock',
    queue: 'orders',
    handler: () => import('#jobs/restore_stock').then((module) => module.restoreStock),
  },
  'apply-adjustment': {
    name: 'apply-adjustment',
    queue: 'stock-adjustments',
    handler: () => import('#jobs/apply_adjustment').then((module) => module.applyAdjustment),
    pendingTable: 'stock_adjustments',
  },
  'deliver-webhook': {
    name: 'deliver-webhook',
    queue: 'webhooks',
    handler: () => import('#jobs/deliver_webhook').then((module) => module.deliverWebhook),
    pendingTable: 'webhook_deliveries',
    // Retried for as long as the delivery says (its retry window, 24 hours
    // by default), with the delay the handler computed (see QUEUES).
    options: { attempts: 1_000_000, backoff: { type: 'webhook' } },
  },
} satisfies Record<string, JobDefinition>

export type AppJobName = keyof typeof JOBS

/**
 * The queues, and each one's share of the worker's concurrency.
 */
export const QUEUES = {
  'orders': { concurrency: (workers) => workers },
  'stock-adjustments': { concurrency: (workers) => Math.max(1, Math.ceil(workers / 4)) },
  // HTTP-bound, no database connection held during the call: its own
  // concurrency (WEBHOOK_CONCURRENCY), per endpoint and tenant limited by
  // slots (app/webhooks/slots.ts).
  'webhooks': {
    concurrency: () => webhooksConfig.concurrency,
    settings: {
      backoffStrategy: (_attempts, _type, error) =>
        (error as { delayMs?: number } | undefined)?.delayMs ?? webhooksConfig.backoffBaseMs,
    },
  },
} satisfies Record<string, QueueDefinition>

export const QUEUE_NAMES = Object.keys(QUEUES)

export const registry: JobRegistry = { jobs: JOBS, queues: QUEUES }
