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
 *
 * Callers write the outbox row in the same statement as the business rows,
 * then ask for it to be published once the tenant transaction commits
 * (registered on the request's outer transaction, never on a savepoint).
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
