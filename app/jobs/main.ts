import type { JobDefinition, JobRegistry, QueueDefinition } from '#queue/queues'

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
} satisfies Record<string, JobDefinition>

export type AppJobName = keyof typeof JOBS

/**
 * The queues, and each one's share of the worker's concurrency.
 */
export const QUEUES = {
  'orders': { concurrency: (workers) => workers },
  'stock-adjustments': { concurrency: (workers) => Math.max(1, Math.ceil(workers / 4)) },
} satisfies Record<string, QueueDefinition>

export const QUEUE_NAMES = Object.keys(QUEUES)

export const registry: JobRegistry = { jobs: JOBS, queues: QUEUES }
