import { randomUUID } from 'node:crypto'
import { platformDb } from '#tenancy/platform'
import logger from '@adonisjs/core/services/logger'
import { publish } from '#queue/publisher'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { queryBatch, tenantBatches } from '#queue/tenant_scan'
import { isJobName, jobId, queueForJob, queuePrefix, queueRedis, type JobName } from '#queue/queues'

/**
 * The outbox sweeper (docs/design/outbox.md). PostgreSQL is the source of
 * truth; Redis may lose jobs (flushed, failed over, or down when the relay
 * ran). Every interval, the sweeper looks at every tenant for work older
 * than `ageMs`:
 * - outbox rows (published work not yet done),
 * - orders and stock adjustments still `pending` without an outbox row,
 * and publishes each again whose job is not in the queue. A job that
 * failed for good is retried a few times (counted in `outbox.attempts`),
 * then left in the failed set for an operator (`queue:failed`,
 * `queue:retry`).
 */
export const MAX_SWEEP_RETRIES = 5
const ROWS_PER_TENANT = 500

export interface SweepReport {
  scanned: number
  published: number
  retried: number
}

interface StaleRow {
  tenant_id: number
  job: string
  ref_id: number
  attempts: number
  in_outbox: boolean
}

export async function sweep({ ageMs }: { ageMs: number }): Promise<SweepReport> {
  const report: SweepReport = { scanned: 0, published: 0, retried: 0 }
  for await (const tenantIds of tenantBatches()) {
    const rows = await queryBatch<StaleRow>(
      tenantIds,
      (schema, tenantId) => staleWorkSql(schema, tenantId, ageMs),
      (tenantId, error) => logger.warn({ err: error, tenantId }, 'sweeper skipped a tenant')
    )
    for (const row of rows) {
      if (!isJobName(row.job)) continue
      report.scanned++
      const outcome = await republish(row.job, row)
      if (outcome === 'published') report.published++
      if (outcome === 'retried') report.retried++
    }
  }
  return report
}

function staleWorkSql(schema: string, tenantId: number, ageMs: number) {
  const cutoff = `now() - (?::bigint * interval '1 millisecond')`
  return {
    sql: `
      (select ${tenantId}::bigint as tenant_id, job, ref_id, attempts, true as in_outbox
       from ${schema}.outbox where created_at < ${cutoff} order by created_at limit ${ROWS_PER_TENANT})
      union all
      (select ${tenantId}::bigint, 'confirm-order', o.id, 0, false
       from ${schema}.orders o
       where o.status = 'pending' and o.created_at < ${cutoff}
         and not exists (select 1 from ${schema}.outbox b where b.job = 'confirm-order' and b.ref_id = o.id)
       order by o.created_at limit ${ROWS_PER_TENANT})
      union all
      (select ${tenantId}::bigint, 'apply-adjustment', a.id, 0, false
       from ${schema}.stock_adjustments a
       where a.status = 'pending' and a.created_at < ${cutoff}
         and not exists (select 1 from ${schema}.outbox b where b.job = 'apply-adjustment' and b.ref_id = a.id)
       order by a.created_at limit ${ROWS_PER_TENANT})`,
    bindings: [ageMs, ageMs, ageMs],
  }
}

async function republish(
  job: JobName,
  row: StaleRow
): Promise<'published' | 'retried' | 'queued' | 'left'> {
  const id = jobId(job, row.tenant_id, row.ref_id)
  const queued = await queueForJob(job).getJob(id)
  const state = queued ? await queued.getState() : 'unknown'

  if (state === 'failed') {
    if (!row.in_outbox || row.attempts >= MAX_SWEEP_RETRIES) return 'left'
    await bumpAttempts(job, row)
    await queued!.retry('failed')
    return 'retried'
  }
  if (state === 'completed' && queued) {
    // Done in Redis but not in PostgreSQL: the work was recorded again after
    // the job finished. Replace the finished job.
    await queued.remove()
  } else if (state !== 'unknown') {
    return 'queued'
  }
  if (row.in_outbox) await bumpAttempts(job, row)
  await publish(job, row.tenant_id, row.ref_id)
  return 'published'
}

async function bumpAttempts(job: JobName, row: StaleRow) {
  await platformDb().rawQuery(
    `update ${quoteIdent(tenantSchema(row.tenant_id))}.outbox set attempts = attempts + 1
     where job = ? and ref_id = ?`,
    [job, row.ref_id]
  )
}

/**
 * Runs the sweeper every `intervalMs` in this process. With several worker
 * processes, a Redis lock lets one of them sweep per interval.
 */
export function startSweeper({ intervalMs, ageMs }: { intervalMs: number; ageMs: number }): {
  stop: () => Promise<void>
} {
  let running: Promise<unknown> | undefined
  let stopped = false
  const owner = randomUUID()

  const tick = async () => {
    try {
      const lock = await queueRedis().set(
        `${queuePrefix()}:sweeper-lock`,
        owner,
        'PX',
        Math.max(intervalMs - 50, 50),
        'NX'
      )
      if (lock !== 'OK' || stopped) return
      const report = await sweep({ ageMs })
      if (report.published || report.retried) {
        logger.info(report, 'sweeper re-published work left in PostgreSQL')
      }
    } catch (error) {
      logger.warn({ err: error }, 'sweep failed; will try again')
    }
  }

  const timer = setInterval(() => {
    if (running) return
    running = tick().finally(() => (running = undefined))
  }, intervalMs)

  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
