import { queuePrefix, queueRedis } from '#queue/queues'

/**
 * Concurrency slots of webhook deliveries (docs/design/webhooks.md): at
 * most `perEndpoint` attempts to one endpoint and `perTenant` to one
 * tenant's endpoints run at once, across every worker process. A delivery
 * that finds no free slot waits (its job is delayed a moment, no attempt
 * counted), so one slow endpoint holds at most `perEndpoint` of the
 * worker's slots and one tenant at most `perTenant`: the others keep
 * flowing.
 *
 * A slot is a member of a sorted set scored by its expiry, so a worker that
 * dies holding one frees it when the score passes. Both keys share the
 * tenant's hash tag: one slot per script on Redis Cluster.
 */
const ACQUIRE = `
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  return 1`

const RELEASE = `
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1`

function keys(tenantId: number, endpointId: number): [string, string] {
  const tag = `{${queuePrefix()}:wh:${tenantId}}`
  return [`${tag}:endpoint:${endpointId}`, `${tag}:tenant`]
}

export async function acquireSlot(
  tenantId: number,
  endpointId: number,
  owner: string,
  { perEndpoint, perTenant, holdMs }: { perEndpoint: number; perTenant: number; holdMs: number }
): Promise<boolean> {
  const now = Date.now()
  const result = await queueRedis().eval(
    ACQUIRE,
    2,
    ...keys(tenantId, endpointId),
    now,
    now + holdMs,
    owner,
    perEndpoint,
    perTenant,
    holdMs * 2
  )
  return Number(result) === 1
}

export async function releaseSlot(tenantId: number, endpointId: number, owner: string) {
  await queueRedis().eval(RELEASE, 2, ...keys(tenantId, endpointId), owner)
}
