import { queuePrefix, queueRedis } from '#queue/queues'

/**
 * Concurrency slots of webhook deliveries (docs/design/webhooks.md): at
 * most `perEndpoint` attempts to one endpoint and `perTenant` to one
 * tenant's endpoints run at once, across every worker process. A delivery
 * that finds no free slot waits (a moment in the process, see claimSlot,
 * else its job is delayed a moment, no attempt counted), so one slow
 * endpoint holds at most `perEndpoint` of the worker's slots and one tenant
 * at most `perTenant`: the others keep flowing.
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
  try {
    await queueRedis().eval(RELEASE, 2, ...keys(tenantId, endpointId), owner)
  } finally {
    wakeOne(tenantId, endpointId)
  }
}

/**
 * Waiting a moment for a slot, in the process, instead of going back to
 * the queue at once. A burst of one tenant's events (a batch of confirmed
 * orders: up to 32 deliveries to one endpoint at the same moment) finds
 * the endpoint's slots taken by its first few deliveries, which a healthy
 * receiver answers in milliseconds; moving the others to delayed for
 * 100–500 ms (and reading them again) made that delay the tail of
 * commit → receiver. So a delivery that finds no free slot waits for one:
 * woken as soon as this process releases a slot of its endpoint or tenant
 * (the waiter of the same endpoint first), and trying again every 10 ms,
 * doubling to 80 ms, for the slots other processes release, for at most
 * `waitMs`. Then it gives up and the caller delays the job as before.
 *
 * What a slow endpoint can take of the worker stays bounded: at most
 * `perTenant` waiters per tenant in this process and `maxWaiters` in all
 * (a quarter of the webhook concurrency), each for at most `waitMs`: the
 * other endpoints and tenants keep at least three quarters of the worker.
 * (A cap per endpoint as small as its slots sent most of a burst back to
 * the queue anyway.) The limits themselves are still only ever checked
 * and taken in Redis (acquireSlot).
 */
export const FIRST_POLL_MS = 10
export const MAX_POLL_MS = 80

interface Waiter {
  endpointId: number
  wake: () => void
}

/** Sleeping waiters per tenant, oldest first. */
const sleeping = new Map<number, Waiter[]>()
/** Waiting deliveries (asleep or trying) per tenant, and in all. */
const waitingPerTenant = new Map<number, number>()
let waitingTotal = 0

function wakeOne(tenantId: number, endpointId: number) {
  const waiters = sleeping.get(tenantId)
  if (!waiters || waiters.length === 0) return
  const sameEndpoint = waiters.findIndex((waiter) => waiter.endpointId === endpointId)
  const [waiter] = waiters.splice(sameEndpoint === -1 ? 0 : sameEndpoint, 1)
  if (waiters.length === 0) sleeping.delete(tenantId)
  waiter.wake()
}

function sleepUntilReleased(tenantId: number, endpointId: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const waiter: Waiter = {
      endpointId,
      wake: () => {
        clearTimeout(timer)
        resolve()
      },
    }
    const timer = setTimeout(() => {
      const waiters = sleeping.get(tenantId)
      const index = waiters?.indexOf(waiter) ?? -1
      if (waiters && index !== -1) {
        waiters.splice(index, 1)
        if (waiters.length === 0) sleeping.delete(tenantId)
      }
      resolve()
    }, ms)
    let waiters = sleeping.get(tenantId)
    if (!waiters) sleeping.set(tenantId, (waiters = []))
    waiters.push(waiter)
  })
}

function countWaiting(tenantId: number, by: 1 | -1) {
  waitingTotal += by
  const tenant = (waitingPerTenant.get(tenantId) ?? 0) + by
  if (tenant === 0) waitingPerTenant.delete(tenantId)
  else waitingPerTenant.set(tenantId, tenant)
}

/** Deliveries of this process waiting for a slot now (tests). */
export function waitingCount(): number {
  return waitingTotal
}

/**
 * acquireSlot, waiting up to `waitMs` for a slot when none is free (see
 * above). False when none came free in time, or when this process
 * already has as many deliveries waiting as it may.
 */
export async function claimSlot(
  tenantId: number,
  endpointId: number,
  owner: string,
  limits: {
    perEndpoint: number
    perTenant: number
    holdMs: number
    waitMs: number
    maxWaiters: number
  }
): Promise<boolean> {
  if (await acquireSlot(tenantId, endpointId, owner, limits)) return true
  if (
    limits.waitMs <= 0 ||
    waitingTotal >= limits.maxWaiters ||
    (waitingPerTenant.get(tenantId) ?? 0) >= limits.perTenant
  ) {
    return false
  }
  const deadline = Date.now() + limits.waitMs
  let pollMs = FIRST_POLL_MS
  countWaiting(tenantId, 1)
  try {
    for (;;) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) return false
      await sleepUntilReleased(tenantId, endpointId, Math.min(pollMs, remaining))
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS)
      if (await acquireSlot(tenantId, endpointId, owner, limits)) return true
    }
  } finally {
    countWaiting(tenantId, -1)
  }
}
