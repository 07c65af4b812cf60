import type { JobHandler, JobRegistry } from '#queue/queues'
import { JOBS, QUEUES, type AppJobName } from '#queue/jobs'
import { observeJob } from '#metrics/worker_metrics'

/**
 * The handler of every job of the catalog (app/queue/jobs.ts), loaded when
 * a worker first runs it.
 */
const HANDLERS: Record<AppJobName, () => Promise<JobHandler>> = {
  'confirm-order': () => import('#jobs/confirm_order').then((module) => module.confirmOrderJob),
  'restore-stock': () => import('#jobs/restore_stock').then((module) => module.restoreStock),
  'apply-adjustment': () =>
    import('#jobs/apply_adjustment').then((module) => module.applyAdjustment),
  'deliver-webhook': () => import('#jobs/deliver_webhook').then((module) => module.deliverWebhook),
}

/**
 * What the worker runs (app/queue/worker.ts reads it, never imports the
 * handlers): each job of the catalog with its handler, the queues, and the
 * worker's metrics, told of every run.
 */
export const registry: JobRegistry = {
  jobs: Object.fromEntries(
    Object.entries(JOBS).map(([name, spec]) => [
      name,
      { ...spec, handler: HANDLERS[name as AppJobName] },
    ])
  ),
  queues: QUEUES,
  observe: observeJob,
}
