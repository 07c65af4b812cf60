import { currentTenant } from '#tenancy/context'
import { relay } from '#queue/publisher'
import type { JobName } from '#queue/queues'

/**
 * The transactional outbox (docs/design/outbox.md). Work is recorded in the
 * tenant's `outbox` table in the same transaction as the business rows it
 * is about; once that transaction commits, the relay publishes it to
 * BullMQ. The job's handler deletes the row in the transaction that does
 * the work, so the outbox is exactly the work not yet done, and the
 * sweeper re-publishes whatever stays in it too long.
 */
export async function enqueue(job: JobName, refId: number): Promise<void> {
  const { trx, tenantId } = currentTenant()
  await trx.rawQuery(
    `insert into outbox (job, ref_id) values (?, ?) on conflict (job, ref_id) do nothing`,
    [job, refId]
  )
  trx.after('commit', () => relay(job, tenantId, refId))
}

/**
 * For callers that wrote the outbox row themselves (in the same statement
 * as the business rows): publish it once the tenant transaction commits.
 * Registered on the request's outer transaction, never on a savepoint.
 */
export function relayAfterCommit(job: JobName, refId: number): void {
  const { trx, tenantId } = currentTenant()
  trx.after('commit', () => relay(job, tenantId, refId))
}

/**
 * Marks the work done (inside the handler's transaction).
 */
export async function completeOutbox(job: JobName, refId: number): Promise<void> {
  await currentTenant().trx.rawQuery('delete from outbox where job = ? and ref_id = ?', [
    job,
    refId,
  ])
}
