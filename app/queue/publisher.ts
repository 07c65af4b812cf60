import type { JobsOptions } from 'bullmq'
import { withTimeout } from '#helpers/timeout'
import { currentLogger } from '#logging/log_context'
import { claimPriority, releasePriority } from '#queue/fairness'
import { jobId, queueForJob, type JobData, type JobRef } from '#queue/queues'

/**
 * Publishes one unit of committed work to BullMQ. The job id is derived
 * from the work, so publishing twice adds one job. Throws when Redis does
 * not answer in time; the outbox row stays and the sweeper publishes later.
 */
export async function publish(
  job: JobRef & { options?: JobsOptions },
  tenantId: number,
  refId: number
): Promise<void> {
  const priority = await withRedisTimeout(claimPriority(job.queue, tenantId))
  try {
    const data: JobData = { tenantId, refId }
    await withRedisTimeout(
      queueForJob(job).add(job.name, data, {
        ...job.options,
        jobId: jobId(job.name, tenantId, refId),
        priority,
      })
    )
  } catch (error) {
    await releasePriority(job.queue, tenantId).catch(() => {})
    throw error
  }
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
  ;(now ? publishNow : publish)(job, tenantId, refId).catch((error) => {
    // The request's or job's logger already names the tenant.
    const log = currentLogger()
    const tenant = 'tenant_id' in log.bindings() ? {} : { tenant_id: tenantId }
    log.warn(
      { err: error, job: job.name, ref_id: refId, ...tenant },
      'could not publish a job; the outbox sweeper will publish it'
    )
  })
}

export const PUBLISH_TIMEOUT_MS = 2_000

function withRedisTimeout<T>(promise: Promise<T>): Promise<T> {
  return withTimeout(promise, PUBLISH_TIMEOUT_MS, 'Redis')
}
