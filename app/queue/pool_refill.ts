import { Queue, Worker, type ConnectionOptions } from 'bullmq'
import type { RedisOptions } from 'ioredis'
import logger from '@adonisjs/core/services/logger'
import tenantPoolConfig from '#config/tenant_pool'
import { closeConnection, queueConnection, queuePrefix } from '#queue/queues'
import { TenantPool } from '#tenancy/tenant_pool'
import { closeAtShutdown } from '#queue/shutdown'

/**
 * The refill of the pool of ready tenant schemas, as a BullMQ job on its
 * own queue: platform work, not a tenant's, so it carries no tenant and
 * does not go through the outbox. It is idempotent (it tops the pool up to
 * its size, counting under a lock) and a lost trigger costs nothing: the
 * worker also runs it every TENANT_POOL_INTERVAL_MS (a job scheduler).
 *
 * Triggers are deduplicated: while one refill job waits, further sign-ups
 * add nothing.
 */
export const POOL_QUEUE = 'tenant-pool'
export const REFILL_JOB = 'refill'
const SCHEDULER_ID = 'tenant-pool-refill'

let producer: Queue | undefined
let producerConnection: ConnectionOptions | undefined

export function poolQueue(): Queue {
  if (!producer) {
    producerConnection = queueConnection()
    producer = new Queue(POOL_QUEUE, {
      connection: producerConnection,
      prefix: queuePrefix(),
      defaultJobOptions: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    })
    producer.on('error', () => {})
  }
  return producer
}

/**
 * Asks a worker to refill the pool (after a sign-up commits).
 */
export async function requestPoolRefill(): Promise<void> {
  await poolQueue().add(REFILL_JOB, {}, { deduplication: { id: REFILL_JOB } })
}

/**
 * The periodic refill's schedule, when there is one (`tenants:pool`, tests).
 */
export async function refillSchedule() {
  return poolQueue().getJobScheduler(SCHEDULER_ID)
}

export async function closePoolQueue(): Promise<void> {
  const queue = producer
  const connection = producerConnection
  producer = undefined
  producerConnection = undefined
  await queue?.close().catch(() => {})
  // A Cluster client is the queue's to close (BullMQ closes only the
  // connections it created itself).
  if (connection) await closeConnection(connection)
}

closeAtShutdown(closePoolQueue)

export interface PoolRefillHandle {
  worker: Worker
  close(): Promise<void>
}

/**
 * The worker side: one refill at a time per process, and the periodic
 * schedule (upserted by every worker process: one schedule in all). With
 * TENANT_POOL_SIZE=0 the schedule is removed and a refill job does nothing.
 */
export async function startPoolRefill(
  options: { pool?: TenantPool; intervalMs?: number; connection?: RedisOptions } = {}
): Promise<PoolRefillHandle> {
  const pool = options.pool ?? new TenantPool()
  const connection = queueConnection({ ...options.connection, maxRetriesPerRequest: null })
  const worker = new Worker(
    POOL_QUEUE,
    async () => {
      const outcome = await pool.refill()
      if (outcome.built || outcome.migrated || outcome.secured || outcome.dropped) {
        logger.info({ queue: POOL_QUEUE, ...outcome }, 'tenant pool refilled')
      }
      return outcome
    },
    {
      connection,
      prefix: queuePrefix(),
      concurrency: 1,
    }
  )
  worker.on('error', (error) => logger.error({ err: error, queue: POOL_QUEUE }, 'worker error'))
  worker.on('failed', (job, error) =>
    logger.warn({ jobId: job?.id, queue: POOL_QUEUE, err: error }, 'tenant pool refill failed')
  )
  const queue = poolQueue()
  if (pool.enabled) {
    await queue.upsertJobScheduler(
      SCHEDULER_ID,
      { every: options.intervalMs ?? tenantPoolConfig.refillIntervalMs },
      { name: REFILL_JOB, data: {} }
    )
  } else {
    await queue.removeJobScheduler(SCHEDULER_ID)
  }
  return {
    worker,
    async close() {
      await worker.close()
      await closeConnection(connection)
    },
  }
}
