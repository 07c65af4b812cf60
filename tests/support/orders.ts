import db from '#tests/support/platform_db'
import type { ApiClient } from '@japa/api-client'
import { givenTenant, givenUser, type GivenUser } from '#tests/support/fixtures'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { closeQueues, queue, queuePrefix, queueRedis } from '#queue/queues'
import { QUEUE_NAMES } from '#queue/jobs'
import { masters } from '#config/redis_options'

/**
 * Fixtures and probes of the orders area.
 */

function schemaOf(tenantId: number) {
  return quoteIdent(tenantSchema(tenantId))
}

export async function stockOf(tenantId: number, productId: number): Promise<number> {
  const { rows } = await db.rawQuery(
    `select stock from ${schemaOf(tenantId)}.products where id = ?`,
    [productId]
  )
  return rows[0].stock
}

export async function ledgerSum(tenantId: number, productId: number): Promise<number> {
  const { rows } = await db.rawQuery(
    `select coalesce(sum(delta), 0)::int as total from ${schemaOf(tenantId)}.stock_movements where product_id = ?`,
    [productId]
  )
  return rows[0].total
}

export async function movementsOf(
  tenantId: number,
  filter: { orderId?: number; kind?: string } = {}
) {
  const { rows } = await db.rawQuery(
    `select product_id, delta, kind, order_id, adjustment_id from ${schemaOf(tenantId)}.stock_movements
     where (?::bigint is null or order_id = ?) and (?::text is null or kind = ?) order by id`,
    [
      filter.orderId ?? null,
      filter.orderId ?? null,
      filter.kind ?? null,
      filter.kind ?? null,
    ] as never
  )
  return rows as {
    product_id: number
    delta: number
    kind: string
    order_id: number | null
    adjustment_id: number | null
  }[]
}

export async function orderStatuses(tenantId: number): Promise<Record<string, number>> {
  const { rows } = await db.rawQuery(
    `select status, count(*)::int as n from ${schemaOf(tenantId)}.orders group by status`
  )
  return Object.fromEntries(rows.map((row: { status: string; n: number }) => [row.status, row.n]))
}

export async function countWithStatus(tenantId: number, status: string): Promise<number> {
  const statuses = await orderStatuses(tenantId)
  return statuses[status] ?? 0
}

export async function outboxCount(tenantId: number): Promise<number> {
  const { rows } = await db.rawQuery(`select count(*)::int as n from ${schemaOf(tenantId)}.outbox`)
  return rows[0].n
}

/**
 * Polls `probe` until it returns a truthy value or the deadline passes (then
 * throws with the last value seen). A generous deadline, not a timing
 * assertion.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  { timeoutMs = 60_000, intervalMs = 100, message = 'condition' } = {}
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await probe()
    if (last) return last
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${message}; last value: ${JSON.stringify(last)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * Empties this project's queues and fairness counters (only the test
 * prefix, in this worktree's own Redis DB).
 */
export async function resetQueues() {
  for (const name of QUEUE_NAMES) {
    await queue(name).obliterate({ force: true })
  }
  const redis = queueRedis()
  await redis.ping()
  for (const node of masters(redis)) {
    const keys = await node.keys(`${queuePrefix()}:fair:*`)
    // One DEL per key: on a cluster, keys of several slots may not share a command.
    for (const key of keys) await redis.del(key)
  }
  await redis.del(`${queuePrefix()}:sweeper-lock`)
}

/**
 * Wipes the queue's Redis DB (this worktree's own REDIS_DB, or every master
 * of the test cluster), as a crashed Redis without persistence would.
 */
export async function wipeQueueRedis() {
  const redis = queueRedis()
  await redis.ping()
  await Promise.all(masters(redis).map((node) => node.flushdb()))
}

export { closeQueues }

/**
 * Places `count` one-unit orders of the product, spread over the customers,
 * all at once; each must be accepted (202). Returns the order ids.
 */
export async function placeOneUnitOrders(
  client: ApiClient,
  customers: GivenUser[],
  productId: number,
  count: number
): Promise<number[]> {
  const responses = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      client
        .post('/api/orders/')
        .bearerToken(customers[index % customers.length].token)
        .json({ items: [{ product_id: productId, qty: 1 }] })
    )
  )
  return responses.map((response) => {
    response.assertStatus(202)
    return response.body().id as number
  })
}

/**
 * How many of the tenant's orders have reached a final state.
 */
export async function finalCount(tenantId: number): Promise<number> {
  const statuses = await orderStatuses(tenantId)
  return (statuses.confirmed ?? 0) + (statuses.rejected ?? 0)
}

/**
 * The starting point of a reliability test: the queues emptied, a fresh
 * tenant and `count` of its customers.
 */
export async function givenTenantWithCustomers(count: number) {
  await resetQueues()
  const tenant = await givenTenant()
  const customers = await Promise.all(
    Array.from({ length: count }, () => givenUser(tenant, 'customer'))
  )
  return { tenant, customers }
}
