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
 *
 * A delivery that finds its endpoint's slots taken first waits for one in
 * the process, briefly (`waitForSlot`): a burst of one endpoint's events (a
 * batch of confirmed orders) then goes out as fast as the slots turn over,
 * each release in this process handing its slot to the next waiter at
 * once, instead of every event behind the first few going back to the
 * queue, being read again and trying again later.
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
  const [endpointKey, tenantKey] = keys(tenantId, endpointId)
  try {
    await queueRedis().eval(RELEASE, 2, endpointKey, tenantKey, owner)
  } finally {
    wakeOne(endpointKey)
  }
}

/**
 * The deliveries of this process napping for a slot, per endpoint key, in
 * arrival order (each entry wakes its nap), and how many deliveries wait,
 * per endpoint key and in all (napping or trying again).
 */
const napping = new Map<string, Array<() => void>>()
const waitersOf = new Map<string, number>()
let waitingTotal = 0

function wakeOne(endpointKey: string) {
  napping.get(endpointKey)?.[0]?.()
}

/**
 * Waits until `wakeOne` for this endpoint or `ms`, whichever comes first.
 */
function nap(endpointKey: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const queue = napping.get(endpointKey) ?? []
    napping.set(endpointKey, queue)
    const wake = () => {
      clearTimeout(timer)
      queue.splice(queue.indexOf(wake), 1)
      if (queue.length === 0) napping.delete(endpointKey)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    queue.push(wake)
  })
}

export interface SlotWait {
  /** How long a delivery may wait in the process for a slot. */
  maxWaitMs: number
  /** How many deliveries of one endpoint may wait in the process at once. */
  maxWaiters: number
  /** How many deliveries may wait in the process at once, all endpoints together. */
  maxWaitingTotal: number
}

/**
 * acquireSlot, and when the slots are taken, waits for one in this
 * process: woken by a release of the same endpoint here, or after a short
 * nap (10 ms, doubling up to 100 ms) for slots held by other processes or
 * by the tenant's other endpoints. Gives up (false) after `maxWaitMs`, or
 * at once when `maxWaiters` deliveries of the endpoint, or
 * `maxWaitingTotal` of any, already wait here, so the deliveries behind a
 * hanging endpoint never take more of the process's concurrency than that:
 * the caller then puts the job back in the queue.
 */
export async function waitForSlot(
  tenantId: number,
  endpointId: number,
  owner: string,
  limits: { perEndpoint: number; perTenant: number; holdMs: number },
  { maxWaitMs, maxWaiters, maxWaitingTotal }: SlotWait
): Promise<boolean> {
  if (await acquireSlot(tenantId, endpointId, owner, limits)) return true
  const [endpointKey] = keys(tenantId, endpointId)
  const waiters = waitersOf.get(endpointKey) ?? 0
  if (waiters >= maxWaiters || waitingTotal >= maxWaitingTotal) return false
  waitersOf.set(endpointKey, waiters + 1)
  waitingTotal++
  try {
    const deadline = Date.now() + maxWaitMs
    for (let napMs = 10; Date.now() < deadline; napMs = Math.min(napMs * 2, 100)) {
      await nap(endpointKey, Math.min(napMs, Math.max(1, deadline - Date.now())))
      if (await acquireSlot(tenantId, endpointId, owner, limits)) return true
    }
    return false
  } finally {
    waitingTotal--
    const left = (waitersOf.get(endpointKey) ?? 1) - 1
    if (left > 0) waitersOf.set(endpointKey, left)
    else waitersOf.delete(endpointKey)
  }
}
