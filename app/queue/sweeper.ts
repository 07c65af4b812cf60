import { randomUUID } from 'node:crypto'
import { platformDb } from '#tenancy/platform'
import logger from '@adonisjs/core/services/logger'
import { publish } from '#queue/publisher'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { queryBatch, tenantBatches } from '#tenancy/tenant_scan'
import { outboxRowExistsSql } from '#queue/outbox'
import {
  jobId,
  queueForJob,
  queuePrefix,
  queueRedis,
  type JobDefinition,
  type JobRegistry,
} from '#queue/queues'

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

export async function sweep(
  registry: JobRegistry,
  { ageMs }: { ageMs: number }
): Promise<SweepReport> {
  const report: SweepReport = { scanned: 0, published: 0, retried: 0 }
  for await (const tenantIds of tenantBatches()) {
    const rows = await queryBatch<StaleRow>(
      tenantIds,
      (schema, tenantId) => staleWorkSql(registry, schema, tenantId, ageMs),
      (tenantId, error) => logger.warn({ err: error, tenantId }, 'sweeper skipped a tenant')
    )
    for (const row of rows) {
      const job = registry.jobs[row.job]
      if (!job || !Object.hasOwn(registry.jobs, row.job)) continue
      report.scanned++
      const outcome = await republish(job, row)
      if (outcome === 'published') report.published++
      if (outcome === 'retried') report.retried++
    }
  }
  return report
}

/**
 * The outbox rows older than the cutoff, and for every job of the registry
 * with a `pendingTable`, that table's `pending` rows older than the cutoff
 * without an outbox row (written before the outbox existed, or whose row
 * was lost).
 */
function staleWorkSql(registry: JobRegistry, schema: string, tenantId: number, ageMs: number) {
  const cutoff = `now() - (?::bigint * interval '1 millisecond')`
  const parts = [
    `(select ${tenantId}::bigint as tenant_id, job, ref_id, attempts, true as in_outbox
       from ${schema}.outbox where created_at < ${cutoff} order by created_at limit ${ROWS_PER_TENANT})`,
  ]
  for (const job of Object.values(registry.jobs)) {
    if (!job.pendingTable) continue
    const table = `${schema}.${quoteIdent(job.pendingTable)}`
    const hasRow = outboxRowExistsSql(job.name, 'p.id', schema)
    parts.push(`(select ${tenantId}::bigint, '${job.name}', p.id, 0, false
       from ${table} p
       where p.status = 'pending' and p.created_at < ${cutoff} and not exists (${hasRow})
       order by p.created_at limit ${ROWS_PER_TENANT})`)
  }
  return { sql: parts.join('\n      union all\n      '), bindings: parts.map(() => ageMs) }
}

async function republish(
  job: JobDefinition,
  row: StaleRow
): Promise<'published' | 'retried' | 'queued' | 'left'> {
  const id = jobId(job.name, row.tenant_id, row.ref_id)
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

async function bumpAttempts(job: JobDefinition, row: StaleRow) {
  await platformDb().rawQuery(
    `update ${quoteIdent(tenantSchema(row.tenant_id))}.outbox set attempts = attempts + 1
     where job = ? and ref_id = ?`,
    [job.name, row.ref_id]
  )
}

/**
 * How long the fleet waits after a sweep that took `tookMs` before the next
 * one: at least `intervalMs`, and long enough that sweeping takes at most
 * `maxDutyPercent` of the time. A sweep reads every tenant's schema, so its
 * cost grows with the number of tenants (seconds at 10,000); without the
 * bound it would run back to back on a large installation and hold a core
 * of PostgreSQL and the worker busy for a safety net. The price is a slower
 * recovery of jobs Redis lost: about `tookMs × 100 / maxDutyPercent`.
 */
export function sweepPause(
  tookMs: number,
  { intervalMs, maxDutyPercent }: { intervalMs: number; maxDutyPercent: number }
): number {
  const duty = Math.min(Math.max(maxDutyPercent, 1), 100) / 100
  return Math.max(intervalMs, Math.ceil((tookMs * (1 - duty)) / duty))
}

/**
 * Runs the sweeper every `intervalMs` in this process. With several worker
 * processes, a Redis lock lets one of them sweep per interval; after a
 * sweep the lock is held for the pause `sweepPause` gives, so no process of
 * the fleet sweeps before it ends.
 */
export function startSweeper(
  registry: JobRegistry,
  {
    intervalMs,
    ageMs,
    maxDutyPercent = 10,
  }: { intervalMs: number; ageMs: number; maxDutyPercent?: number }
): {
  stop: () => Promise<void>
} {
  let running: Promise<unknown> | undefined
  let stopped = false
  const owner = randomUUID()
  const lockKey = `${queuePrefix()}:sweeper-lock`

  const tick = async () => {
    try {
      const lock = await queueRedis().set(lockKey, owner, 'PX', Math.max(intervalMs - 50, 50), 'NX')
      if (lock !== 'OK' || stopped) return
      const started = performance.now()
      const report = await sweep(registry, { ageMs })
      const pause = sweepPause(performance.now() - started, { intervalMs, maxDutyPercent })
      if (pause > intervalMs) {
        // Overwrites the lock even if it expired during a long sweep and
        // another process took it: both then wait the same pause.
        await queueRedis().set(lockKey, owner, 'PX', pause - 50)
      }
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
