import { withTimeout } from '#helpers/timeout'
import { currentLogger } from '#logging/log_context'
import { claimPriority, releasePriority } from '#queue/fairness'
import { JOBS, jobId, queueForJob, type JobData, type JobName } from '#queue/queues'

/**
 * Publishes one unit of committed work to BullMQ. The job id is derived
 * from the work, so publishing twice adds one job. Throws when Redis does
 * not answer in time; the outbox row stays and the sweeper publishes later.
 */
export async function publish(job: JobName, tenantId: number, refId: number): Promise<void> {
  const queueName = JOBS[job].queue
  const priority = await withRedisTimeout(claimPriority(queueName, tenantId))
  try {
    const data: JobData = { tenantId, refId }
    await withRedisTimeout(
      queueForJob(job).add(job, data, { jobId: jobId(job, tenantId, refId), priority })
    )
  } catch (error) {
    await releasePriority(queueName, tenantId).catch(() => {})
    throw error
  }
}

/**
 * The relay: publishes without making the caller wait, logging (not
 * throwing) when Redis is unavailable. PostgreSQL holds the work anyway.
 */
export function relay(job: JobName, tenantId: number, refId: number): void {
  publish(job, tenantId, refId).catch((error) => {
    // The request's or job's logger already names the tenant.
    const log = currentLogger()
    const tenant = 'tenant_id' in log.bindings() ? {} : { tenant_id: tenantId }
    log.warn(
      { err: error, job, ref_id: refId, ...tenant },
      'could not publish a job; the outbox sweeper will publish it'
    )
  })
}

export const PUBLISH_TIMEOUT_MS = 2_000

function withRedisTimeout<T>(promise: Promise<T>): Promise<T> {
  return withTimeout(promise, PUBLISH_TIMEOUT_MS, 'Redis')
}
