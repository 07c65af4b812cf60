import { queue, queueRedis, type QueueName } from '#queue/queues'
import { queryBatch, tenantBatches } from '#tenancy/tenant_scan'

export interface QueueReport {
  name: string
  waiting: number
  active: number
  delayed: number
  failed: number
  completed_last_minute: number
  failed_last_minute: number
}

export interface StatusReport {
  queues: QueueReport[]
  pending_orders: number
  outbox_rows: number
  oldest_pending_order: { tenant_id: number; order_id: number; age_seconds: number } | null
}

/**
 * What `queue:status` prints: per queue, the jobs waiting (prioritized
 * included), running, delayed and failed, and the jobs finished in the last
 * minute (BullMQ scores its completed and failed sets by finish time);
 * across tenants, the pending orders, the outbox backlog and the oldest
 * pending order.
 */
export async function queueStatus(queueNames: QueueName[]): Promise<StatusReport> {
  const since = Date.now() - 60_000
  const queues = await Promise.all(
    queueNames.map(async (name) => {
      const producer = queue(name)
      const counts = await producer.getJobCounts(
        'waiting',
        'prioritized',
        'active',
        'delayed',
        'failed'
      )
      const [completedLastMinute, failedLastMinute] = await Promise.all([
        queueRedis().zcount(producer.keys.completed, since, '+inf'),
        queueRedis().zcount(producer.keys.failed, since, '+inf'),
      ])
      return {
        name,
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
        completed_last_minute: completedLastMinute,
        failed_last_minute: failedLastMinute,
      }
    })
  )

  let pending = 0
  let outbox = 0
  let oldest: StatusReport['oldest_pending_order'] = null
  for await (const tenantIds of tenantBatches()) {
    const rows = await queryBatch<{
      tenant_id: number
      pending: number
      outbox: number
      oldest_id: number | null
      age_seconds: number | null
    }>(tenantIds, (schema, tenantId) => ({
      sql: `select ${tenantId}::bigint as tenant_id,
              (select count(*) from ${schema}.orders where status = 'pending')::int as pending,
              (select count(*) from ${schema}.outbox)::int as outbox,
              oldest.id as oldest_id,
              extract(epoch from now() - oldest.created_at)::int as age_seconds
            from (select 1) one
            left join lateral (
              select id, created_at from ${schema}.orders
              where status = 'pending' order by created_at, id limit 1
            ) oldest on true`,
      bindings: [],
    }))
    for (const row of rows) {
      pending += row.pending
      outbox += row.outbox
      if (row.oldest_id !== null && row.age_seconds !== null) {
        if (!oldest || row.age_seconds > oldest.age_seconds) {
          oldest = {
            tenant_id: row.tenant_id,
            order_id: row.oldest_id,
            age_seconds: row.age_seconds,
          }
        }
      }
    }
  }
  return { queues, pending_orders: pending, outbox_rows: outbox, oldest_pending_order: oldest }
}
