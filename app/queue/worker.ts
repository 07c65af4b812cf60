import { Worker, type ConnectionOptions, type Job } from 'bullmq'
import type { RedisOptions } from 'ioredis'
import logger from '@adonisjs/core/services/logger'
import { parseTenantId } from '#tenancy/schema'
import { confirmOrder } from '#jobs/confirm_order'
import { restoreStock } from '#jobs/restore_stock'
import { applyAdjustment } from '#jobs/apply_adjustment'
import { releasePriority } from '#queue/fairness'
import { classify, InvalidJobDataError, isPermanent } from '#queue/job_errors'
import { startSweeper } from '#queue/sweeper'
import { startPoolRefill } from '#queue/pool_refill'
import {
  isJobName,
  JOBS,
  QUEUE_NAMES,
  queueConnection,
  queuePrefix,
  type JobData,
  type JobName,
  type QueueName,
} from '#queue/queues'

export const HANDLERS: Record<JobName, (data: JobData) => Promise<string>> = {
  'confirm-order': confirmOrder,
  'restore-stock': restoreStock,
  'apply-adjustment': applyAdjustment,
}

/**
 * A job's lock is renewed every lockDuration / 2 while its handler runs
 * (handlers take milliseconds). When a worker dies, its jobs' locks expire
 * and the stalled check of any live worker moves them back to waiting:
 * within about lockDuration + stalledInterval.
 */
export const LOCK_DURATION_MS = 15_000
export const STALLED_INTERVAL_MS = 5_000

const MAX_KEPT_FAILURES = 100

export interface WorkerOptions {
  concurrency: number
  /** Runs the outbox sweeper in this process too. */
  sweep?: { intervalMs: number; ageMs: number }
  connection?: RedisOptions
}

export interface WorkerHandle {
  workers: Worker[]
  /** The latest failed attempts seen by this process (at most 100). */
  failures: { jobId?: string; name: string; error: Error }[]
  close(): Promise<void>
}

/**
 * Validates a job's data: every job names its tenant and its row.
 */
export function jobData(job: Pick<Job, 'name' | 'data'>): { name: JobName; data: JobData } {
  const tenantId = parseTenantId(job.data?.tenantId)
  const refId = parseTenantId(job.data?.refId)
  if (!isJobName(job.name) || tenantId === null || refId === null) {
    throw new InvalidJobDataError(`Malformed job ${job.name}: ${JSON.stringify(job.data)}`)
  }
  return { name: job.name, data: { tenantId, refId } }
}

/**
 * Runs one job: its handler re-enters the job's tenant with `withTenant`.
 * The tenant's fairness counter is released once the job is finished for
 * good (completed, or its last attempt failed).
 */
export async function processJob(job: Job, queueName: QueueName): Promise<string> {
  const { name, data } = jobData(job)
  try {
    const outcome = await HANDLERS[name](data)
    await releasePriority(queueName, data.tenantId).catch(() => {})
    return outcome
  } catch (error) {
    const final = isPermanent(error) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
    if (final) await releasePriority(queueName, data.tenantId).catch(() => {})
    throw classify(error)
  }
}

/**
 * Starts one BullMQ worker per queue (and the sweeper, when asked).
 * `close()` stops taking jobs, lets the running ones finish, then closes
 * the connections.
 */
export function startWorkers(options: WorkerOptions): WorkerHandle {
  const failures: WorkerHandle['failures'] = []
  const workers = QUEUE_NAMES.map((queueName) => {
    const worker = new Worker(queueName, (job) => processJob(job, queueName), {
      connection: queueConnection({
        ...options.connection,
        maxRetriesPerRequest: null,
      }) as ConnectionOptions,
      prefix: queuePrefix(),
      concurrency:
        queueName === JOBS['confirm-order'].queue
          ? options.concurrency
          : Math.max(1, Math.ceil(options.concurrency / 4)),
      lockDuration: LOCK_DURATION_MS,
      stalledInterval: STALLED_INTERVAL_MS,
      maxStalledCount: 3,
    })
    worker.on('failed', (job, error) => {
      failures.push({ jobId: job?.id, name: job?.name ?? '?', error })
      if (failures.length > MAX_KEPT_FAILURES) failures.shift()
      logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job attempt failed')
    })
    worker.on('error', (error) => {
      if (/Missing (key|lock) for job/.test(error.message)) {
        // The job vanished from Redis (flushed, failed over) while it ran;
        // its work is in PostgreSQL either way.
        logger.warn({ queue: queueName, reason: error.message }, 'job lost from Redis')
        return
      }
      logger.error({ err: error, queue: queueName }, 'worker error')
    })
    return worker
  })
  const sweeper = options.sweep ? startSweeper(options.sweep) : undefined
  // The pool of ready tenant schemas is refilled by the workers too.
  const poolRefill = startPoolRefill({ connection: options.connection }).catch((error) => {
    logger.error({ err: error }, 'tenant pool refill could not start')
    return undefined
  })

  return {
    workers,
    failures,
    async close() {
      await sweeper?.stop()
      await Promise.all([
        ...workers.map((worker) => worker.close()),
        poolRefill.then((handle) => handle?.close()),
      ])
    },
  }
}
