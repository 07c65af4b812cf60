import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq'
import type { RedisOptions } from 'ioredis'
import logger from '@adonisjs/core/services/logger'
import { parseId } from '#helpers/ids'
import { withTimeout } from '#helpers/timeout'
import { releasePriorities, releasePriority } from '#queue/fairness'
import { classify, InvalidJobDataError, isPermanent } from '#queue/job_errors'
import { startSweeper } from '#queue/sweeper'
import { withLogger } from '#logging/log_context'
import { startPoolRefill } from '#queue/pool_refill'
import { adaptConcurrency } from '#queue/adaptive_concurrency'
import {
  closeConnection,
  jobId,
  queue,
  queueConnection,
  queuePrefix,
  type JobData,
  type JobName,
  type JobRegistry,
  type QueueName,
} from '#queue/queues'

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
  /** The jobs to run (app/jobs/main.ts). */
  registry: JobRegistry
  concurrency: number
  /** Runs the outbox sweeper in this process too. */
  sweep?: { intervalMs: number; ageMs: number; maxDutyPercent?: number }
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
export function jobData(
  registry: JobRegistry,
  job: Pick<Job, 'name' | 'data'>
): { name: JobName; data: JobData } {
  const tenantId = parseId(job.data?.tenantId)
  const refId = parseId(job.data?.refId)
  if (!Object.hasOwn(registry.jobs, job.name) || tenantId === null || refId === null) {
    throw new InvalidJobDataError(`Malformed job ${job.name}: ${JSON.stringify(job.data)}`)
  }
  return { name: job.name, data: { tenantId, refId } }
}

/**
 * The logger of one job: every line carries the job id, its queue, its
 * name and its tenant (when the data names a valid one).
 */
export function jobLogger(job: Pick<Job, 'id' | 'name' | 'data'> | undefined, queueName: string) {
  return logger.child({
    job_id: job?.id ?? null,
    queue: queueName,
    job: job?.name ?? null,
    tenant_id: parseId(job?.data?.tenantId),
  })
}

/**
 * Runs one job: its handler (from the registry) re-enters the job's tenant
 * with `withTenant`, with the job's logger as the current logger
 * (#logging/log_context). The tenant's fairness counter is released once
 * the job is finished for good (completed, or its last attempt failed).
 * Each run is counted in the worker's metrics and logged with its outcome
 * and duration; a job that asks to wait (DelayedError) is neither. Work a
 * handler did besides its own (JobResult.alsoDone) has its jobs removed
 * (removeAlsoDone) before anything else, and counted and logged too; the
 * counters of the job and of the removed ones are released in one script.
 */
export async function processJob(
  registry: JobRegistry,
  job: Job,
  queueName: QueueName,
  token?: string
): Promise<string> {
  const log = jobLogger(job, queueName)
  const started = process.hrtime.bigint()
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9
  return withLogger(log, async () => {
    let name: JobName | undefined
    try {
      const parsed = jobData(registry, job)
      name = parsed.name
      const handler = await registry.jobs[parsed.name].handler()
      const result = await handler(parsed.data, { job, token })
      const { outcome, alsoDone = [] } = typeof result === 'string' ? { outcome: result } : result
      const seconds = elapsed()
      // The batch-mates' jobs go first, before another slot of a worker
      // picks one up only to find its order done; then the counters of
      // this job and of every removed one, in one script.
      const removed =
        alsoDone.length > 0
          ? await removeAlsoDone(queueName, job, parsed.name, parsed.data.tenantId, alsoDone)
          : []
      const released = 1 + removed.filter(Boolean).length
      await releasePriorities(
        queueName,
        Array.from({ length: released }, () => parsed.data.tenantId)
      ).catch(() => {})
      registry.observe?.(queueName, parsed.name, outcome, seconds)
      log.info(
        {
          outcome,
          attempt: job.attemptsMade + 1,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          ...(alsoDone.length > 0 ? { batch: alsoDone.length } : {}),
        },
        'job done'
      )
      if (alsoDone.length > 0) {
        logAlsoDone(registry, queueName, job, parsed.name, parsed.data.tenantId, {
          alsoDone,
          removed,
          seconds,
        })
      }
      return outcome
    } catch (error) {
      if (error instanceof DelayedError) throw error
      const final = isPermanent(error) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
      const tenantId = parseId(job.data?.tenantId)
      if (final && name && tenantId !== null) {
        await releasePriority(queueName, tenantId).catch(() => {})
      }
      registry.observe?.(queueName, name ?? 'unknown', final ? 'failed' : 'retry', elapsed())
      throw classify(error)
    }
  })
}

/**
 * The states of a job that has not started: it may be removed, and its
 * tenant's fairness counter still counts it.
 */
const NOT_STARTED = new Set(['waiting', 'prioritized', 'delayed'])
const REDIS_TIMEOUT_MS = 2_000

/**
 * Removes the jobs of the work a handler did besides its own (a batch of
 * orders confirmed in one transaction, already committed): each job that
 * has not started is removed from the queue, the states and the removals
 * each in one pipelined round trip (a job that is running elsewhere cannot
 * be removed: it finds its work done and says `skipped`; one that is
 * missing, finished or being published right now is left alone, so its
 * tenant's fairness counter is released once per job: by the caller for
 * each job removed here, by the job itself otherwise). Redis failing or
 * slow here (2 s at most) costs nothing but duplicate runs: those jobs
 * then run and skip. Says, per piece of work, whether its job was removed.
 */
async function removeAlsoDone(
  queueName: QueueName,
  job: Job,
  name: JobName,
  tenantId: number,
  alsoDone: { refId: number }[]
): Promise<boolean[]> {
  const producer = queue(queueName)
  const ids = alsoDone.map(({ refId }) => jobId(name, tenantId, refId))
  const removal = (async () => {
    const states = await Promise.all(ids.map((id) => producer.getJobState(id)))
    return Promise.all(
      ids.map(
        async (id, index) => NOT_STARTED.has(states[index]) && (await producer.remove(id)) === 1
      )
    )
  })()
  try {
    return await withTimeout(removal, REDIS_TIMEOUT_MS, 'Redis')
  } catch (error) {
    jobLogger(job, queueName).warn(
      { err: error },
      'could not remove the jobs of work done in this batch; they will run and skip'
    )
    // Removals that land after the timeout still give their counters back.
    removal
      .then((late) =>
        releasePriorities(
          queueName,
          late.filter(Boolean).map(() => tenantId)
        )
      )
      .catch(() => {})
    return ids.map(() => false)
  }
}

/**
 * Counts each piece of work a handler did besides its own in the worker's
 * metrics and logs it with its outcome under its own job id (`batched_by`
 * names this job).
 */
function logAlsoDone(
  registry: JobRegistry,
  queueName: QueueName,
  job: Job,
  name: JobName,
  tenantId: number,
  {
    alsoDone,
    removed,
    seconds,
  }: { alsoDone: { refId: number; outcome: string }[]; removed: boolean[]; seconds: number }
) {
  for (const [index, { refId, outcome }] of alsoDone.entries()) {
    registry.observe?.(queueName, name, outcome, seconds)
    jobLogger(
      { id: jobId(name, tenantId, refId), name, data: { tenantId, refId } },
      queueName
    ).info(
      {
        outcome,
        batched_by: job.id ?? null,
        removed: removed[index] ?? false,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
      },
      'job done'
    )
  }
}

/**
 * Starts one BullMQ worker per queue (and the sweeper, when asked).
 * `close()` stops taking jobs, lets the running ones finish, then closes
 * the connections.
 */
export function startWorkers(options: WorkerOptions): WorkerHandle {
  const failures: WorkerHandle['failures'] = []
  const { registry } = options
  const connections: ConnectionOptions[] = []
  const adapters: { stop(): void }[] = []
  const workers = Object.entries(registry.queues).map(([queueName, definition]) => {
    const connection = queueConnection({ ...options.connection, maxRetriesPerRequest: null })
    connections.push(connection)
    const concurrency = definition.concurrency(options.concurrency)
    const steady = definition.steadyConcurrency?.()
    let running = 0
    const worker = new Worker(
      queueName,
      async (job, token) => {
        running++
        try {
          return await processJob(registry, job, queueName, token)
        } finally {
          running--
        }
      },
      {
        connection,
        prefix: queuePrefix(),
        concurrency: steady !== undefined ? Math.min(steady, concurrency) : concurrency,
        settings: definition.settings,
        lockDuration: LOCK_DURATION_MS,
        stalledInterval: STALLED_INTERVAL_MS,
        maxStalledCount: 3,
      }
    )
    worker.on('failed', (job, error) => {
      failures.push({ jobId: job?.id, name: job?.name ?? '?', error })
      if (failures.length > MAX_KEPT_FAILURES) failures.shift()
      jobLogger(job, queueName).warn(
        { attempts: job?.attemptsMade, err: error },
        'job attempt failed'
      )
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
    if (steady !== undefined) {
      adapters.push(
        adaptConcurrency(worker, queue(queueName as QueueName), {
          steady,
          max: concurrency,
          running: () => running,
          onChange: (value, backlog) =>
            logger.debug({ queue: queueName, concurrency: value, backlog }, 'concurrency changed'),
        })
      )
    }
    return worker
  })
  const sweeper = options.sweep ? startSweeper(registry, options.sweep) : undefined
  // The pool of ready tenant schemas is refilled by the workers too.
  const poolRefill = startPoolRefill({ connection: options.connection }).catch((error) => {
    logger.error({ err: error }, 'tenant pool refill could not start')
    return undefined
  })

  return {
    workers,
    failures,
    async close() {
      for (const adapter of adapters) adapter.stop()
      await sweeper?.stop()
      await Promise.all([
        ...workers.map((worker) => worker.close()),
        poolRefill.then((handle) => handle?.close()),
      ])
      await Promise.all(connections.map((connection) => closeConnection(connection)))
    },
  }
}
