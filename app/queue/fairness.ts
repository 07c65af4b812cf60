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

/**
 * INCREMENT for each key in turn (a key named twice counts twice), in one
 * script: on a Redis Cluster every counter key carries the queue prefix's
 * hash tag, so they all hash to one slot.
 */
const INCREMENT_MANY = `
  local values = {}
  for index, key in ipairs(KEYS) do
    values[index] = redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[1])
  end
  return values`

const DECREMENT_MANY = `
  for _, key in ipairs(KEYS) do
    local value = tonumber(redis.call('GET', key) or '0')
    if value <= 1 then
      redis.call('DEL', key)
    else
      redis.call('DECR', key)
      redis.call('EXPIRE', key, ARGV[1])
    end
  end
  return 0`

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
 * claimPriority for several jobs in one round trip: one priority per
 * tenant id given, in order (a tenant named twice gets two successive
 * priorities).
 */
export async function claimPriorities(queue: QueueName, tenantIds: number[]): Promise<number[]> {
  if (tenantIds.length === 0) return []
  const keys = tenantIds.map((tenantId) => counterKey(queue, tenantId))
  const values = (await queueRedis().eval(
    INCREMENT_MANY,
    keys.length,
    ...keys,
    TTL_SECONDS
  )) as number[]
  return values.map((value) => Math.min(Math.max(Number(value), 1), MAX_PRIORITY))
}

/**
 * releasePriority for several jobs in one round trip.
 */
export async function releasePriorities(queue: QueueName, tenantIds: number[]): Promise<void> {
  if (tenantIds.length === 0) return
  const keys = tenantIds.map((tenantId) => counterKey(queue, tenantId))
  await queueRedis().eval(DECREMENT_MANY, keys.length, ...keys, TTL_SECONDS)
}

/**
 * Counts one job of the tenant as finished (completed, or failed for good).
 */
export async function releasePriority(queue: QueueName, tenantId: number): Promise<void> {
  await queueRedis().eval(DECREMENT, 1, counterKey(queue, tenantId), TTL_SECONDS)
}
