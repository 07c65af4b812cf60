import { queuePrefix, queueRedis, type QueueName } from '#queue/queues'

/**
 * Fairness between tenants on one shared queue (see
 * docs/design/fairness.md). Every tenant has a counter of its outstanding
 * jobs per queue; a job is published with priority = that count after the
 * increment, so the k-th outstanding job of every tenant sorts next to the
 * k-th of every other: a tenant with one job goes before the 2nd…1000th
 * job of a tenant that flooded the queue.
 *
 * The counter is a hint, not a ledger: it expires an hour after its last
 * change, never goes below zero, and losing it (Redis wiped) only costs
 * fairness for a while, never work.
 */
export const MAX_PRIORITY = 2_097_151
const TTL_SECONDS = 3_600

export function counterKey(queue: QueueName, tenantId: number): string {
  return `${queuePrefix()}:fair:${queue}:${tenantId}`
}

const INCREMENT = `
  local value = redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return value`

const DECREMENT = `
  local value = tonumber(redis.call('GET', KEYS[1]) or '0')
  if value <= 1 then
    redis.call('DEL', KEYS[1])
    return 0
  end
  redis.call('DECR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return value - 1`

/**
 * Counts one more outstanding job of the tenant and returns its priority.
 */
export async function claimPriority(queue: QueueName, tenantId: number): Promise<number> {
  const value = await queueRedis().eval(INCREMENT, 1, counterKey(queue, tenantId), TTL_SECONDS)
  return Math.min(Math.max(Number(value), 1), MAX_PRIORITY)
}

/**
 * Counts one job of the tenant as finished (completed, or failed for good).
 */
export async function releasePriority(queue: QueueName, tenantId: number): Promise<void> {
  await queueRedis().eval(DECREMENT, 1, counterKey(queue, tenantId), TTL_SECONDS)
}
