import type { JobsOptions } from 'bullmq'
import { currentTenant } from '#tenancy/context'
import { relay } from '#queue/publisher'
import type { JobName, JobRef } from '#queue/queues'

/**
 * The transactional outbox (docs/design/outbox.md). Work is recorded in the
 * tenant's `outbox` table in the same transaction as the business rows it
 * is about; once that transaction commits, the relay publishes it to
 * BullMQ. The job's handler deletes the row in the transaction that does
 * the work, so the outbox is exactly the work not yet done, and the
 * sweeper re-publishes whatever stays in it too long.
 *
 * Every caller writes and deletes outbox rows through the SQL fragments
 * below (in the same statement as its business rows when it can), then
 * asks for the work to be published once the tenant transaction commits
 * (registered on the request's outer transaction, never on a savepoint).
 */

const JOB_NAME = /^[a-z][a-z-]{0,31}$/

/**
 * A job name as an SQL literal. Names come from the job registry, never
 * from input; the pattern is the fence.
 */
function jobLiteral(job: JobName): string {
  if (!JOB_NAME.test(job)) throw new TypeError(`Invalid job name: ${job}`)
  return `'${job}'`
}

/**
 * "Row written": an INSERT (usable as a CTE body) that records one outbox
 * row per `id` selected from `source` (a CTE name or a subquery).
 * Recording work already recorded adds nothing.
 */
export function outboxInsertSql(job: JobName, source: string): string {
  return `insert into outbox (job, ref_id) select ${jobLiteral(job)}, id from ${source}
    on conflict (job, ref_id) do nothing`
}

/**
 * "Row done": a DELETE (usable as a CTE body or a statement) of the job's
 * outbox row; its one bind parameter is the ref id.
 */
export function outboxDoneSql(job: JobName): string {
  return `delete from outbox where job = ${jobLiteral(job)} and ref_id = ?`
}

/**
 * "Rows done" for many refs: a DELETE (usable as a CTE body) of the job's
 * outbox rows whose ref ids `refIds` selects (a subquery).
 */
export function outboxDoneManySql(job: JobName, refIds: string): string {
  return `delete from outbox where job = ${jobLiteral(job)} and ref_id in (${refIds})`
}

/**
 * "Row present": a subquery selecting the job's outbox row for the ref id
 * `refColumn` (for anti-joins); `schema` qualifies the table when the
 * caller scans tenants outside a tenant transaction.
 */
export function outboxRowExistsSql(job: JobName, refColumn: string, schema?: string): string {
  const table = schema ? `${schema}.outbox` : 'outbox'
  return `select 1 from ${table} where job = ${jobLiteral(job)} and ref_id = ${refColumn}`
}

/**
 * "Rows present": a subquery selecting the `ref_id` of every outbox row of
 * the job (the work of that kind not done yet), for callers that take
 * several units of work at once.
 */
export function outboxRefsSql(job: JobName): string {
  return `select ref_id from outbox where job = ${jobLiteral(job)}`
}

/**
 * Records one unit of work in the current tenant transaction.
 */
export async function recordOutbox(job: JobName, refId: number): Promise<void> {
  await currentTenant().trx.rawQuery(outboxInsertSql(job, '(select ?::bigint as id) ref'), [refId])
}

/**
 * Publishes the work once the current tenant transaction commits. `now`
 * replaces a finished job of the same work (see publishNow).
 */
export function relayAfterCommit(
  job: JobRef & { options?: JobsOptions },
  refId: number,
  options: { now?: boolean } = {}
): void {
  const { trx, tenantId } = currentTenant()
  trx.after('commit', () => relay(job, tenantId, refId, options))
}

/**
 * Marks the work done (inside the handler's transaction).
 */
export async function completeOutbox(job: JobName, refId: number): Promise<void> {
  await currentTenant().trx.rawQuery(outboxDoneSql(job), [refId])
}
