import type { JobsOptions } from 'bullmq'
import { withTimeout } from '#helpers/timeout'
import { currentLogger } from '#logging/log_context'
import { claimPriorities, releasePriorities } from '#queue/fairness'
import { jobId, queueForJob, type JobData, type JobRef } from '#queue/queues'
import { settleAtShutdown } from '#queue/shutdown'

interface PendingPublish {
  job: JobRef & { options?: JobsOptions }
  tenantId: number
  refId: number
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Publishes are collected per queue for the rest of the current turn of
 * the event loop and sent together: the fairness counters of the whole
 * batch in one script, then every job in one BullMQ `addBulk` (one
 * pipeline). Under load, the commits of many requests land in one turn,
 * so a batch costs two Redis round trips instead of two per job. All keys
 * carry the queue prefix (hash-tagged on a Redis Cluster): one slot.
 */
export const MAX_PUBLISH_BATCH = 500

const batches = new Map<string, PendingPublish[]>()
let flushScheduled = false

function scheduleFlush() {
  if (flushScheduled) return
  flushScheduled = true
  setImmediate(() => {
    flushScheduled = false
    const queued = [...batches.values()]
    batches.clear()
    for (const entries of queued) {
      for (let start = 0; start < entries.length; start += MAX_PUBLISH_BATCH) {
        void publishBatch(entries.slice(start, start + MAX_PUBLISH_BATCH))
      }
    }
  })
}

/**
 * Sends one batch of one queue. Every job's promise settles with the
 * batch: when Redis fails or does not answer in time, each is rejected
 * (its outbox row stays and the sweeper publishes it later) and the
 * batch's counters are given back.
 */
async function publishBatch(entries: PendingPublish[]): Promise<void> {
  const queueName = entries[0].job.queue
  const tenantIds = entries.map((entry) => entry.tenantId)
  let claimed = false
  try {
    const priorities = await withRedisTimeout(claimPriorities(queueName, tenantIds))
    claimed = true
    await withRedisTimeout(
      queueForJob(entries[0].job).addBulk(
        entries.map(({ job, tenantId, refId }, index) => ({
          name: job.name,
          data: { tenantId, refId } satisfies JobData,
          opts: {
            ...job.options,
            jobId: jobId(job.name, tenantId, refId),
            priority: priorities[index],
          },
        }))
      )
    )
  } catch (error) {
    if (claimed) await releasePriorities(queueName, tenantIds).catch(() => {})
    for (const entry of entries) entry.reject(error)
    return
  }
  for (const entry of entries) entry.resolve()
}

/**
 * Publishes one unit of committed work to BullMQ (batched with the other
 * publishes of this turn, see above). The job id is derived from the
 * work, so publishing twice adds one job. Throws when Redis does not
 * answer in time; the outbox row stays and the sweeper publishes later.
 */
export function publish(
  job: JobRef & { options?: JobsOptions },
  tenantId: number,
  refId: number
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let batch = batches.get(job.queue)
    if (!batch) batches.set(job.queue, (batch = []))
    batch.push({ job, tenantId, refId, resolve, reject })
    scheduleFlush()
  })
}

/**
 * Publishes the work again now, whatever its job did before: a finished
 * (completed or failed) job of the same id is replaced, a delayed one is
 * promoted. Used when a client asks for work to run again (a webhook
 * delivery retried by hand).
 */
export async function publishNow(
  job: JobRef & { options?: JobsOptions },
  tenantId: number,
  refId: number
): Promise<void> {
  const existing = await withRedisTimeout(queueForJob(job).getJob(jobId(job.name, tenantId, refId)))
  const state = existing ? await withRedisTimeout(existing.getState()) : 'unknown'
  if (state === 'delayed') {
    await withRedisTimeout(existing!.promote())
    return
  }
  if (state === 'completed' || state === 'failed') await withRedisTimeout(existing!.remove())
  else if (state !== 'unknown') return
  await publish(job, tenantId, refId)
}

/**
 * The relay: publishes without making the caller wait, logging (not
 * throwing) when Redis is unavailable. PostgreSQL holds the work anyway.
 */
export function relay(
  job: JobRef & { options?: JobsOptions },
  tenantId: number,
  refId: number,
  { now = false }: { now?: boolean } = {}
): void {
  const relaying = (now ? publishNow : publish)(job, tenantId, refId).catch((error) => {
    // The request's or job's logger already names the tenant.
    const log = currentLogger()
    const tenant = 'tenant_id' in log.bindings() ? {} : { tenant_id: tenantId }
    log.warn(
      { err: error, job: job.name, ref_id: refId, ...tenant },
      'could not publish a job; the outbox sweeper will publish it'
    )
  })
  relaying.finally(() => relays.delete(relaying))
  relays.add(relaying)
}

/** Relays not yet settled (each bounded by PUBLISH_TIMEOUT_MS per call). */
const relays = new Set<Promise<void>>()

/**
 * Waits until every relay of this process has settled. A relay runs after
 * its transaction committed, often after the response went out, so at
 * shutdown (once the HTTP server or the workers have stopped) some may
 * still be on their way to Redis; the queue connections are closed only
 * after them, or a relay would open a producer connection nobody closes
 * and keep the process alive.
 */
export async function settleRelays(): Promise<void> {
  while (relays.size) await Promise.allSettled([...relays])
}

settleAtShutdown(settleRelays)

export const PUBLISH_TIMEOUT_MS = 2_000

function withRedisTimeout<T>(promise: Promise<T>): Promise<T> {
  return withTimeout(promise, PUBLISH_TIMEOUT_MS, 'Redis')
}
