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
 * queue, being read again and trying again later. The hand-over is one
 * script (TRANSFER: the releasing owner's hold becomes the waiter's), so
 * the waiter neither races other processes for the freed slot nor takes
 * it in a round trip of its own.
 */

/**
 * Lua, ARGV as ACQUIRE's: drops the expired holds, then returns 0 unless
 * fewer than the limits are held.
 */
const RETURN_UNLESS_FREE = `
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end`

/** Lua, ARGV as ACQUIRE's: the owner's hold, in both keys; returns 1. */
const HOLD = `
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  return 1`

/**
 * ARGV: now, the new hold's expiry, its owner, perEndpoint, perTenant, the
 * keys' TTL. A hold when a slot is free.
 */
const ACQUIRE = RETURN_UNLESS_FREE + HOLD

/**
 * ARGV as ACQUIRE's, then the releasing owner. The releasing owner's hold
 * becomes the new owner's: as many holds as before, so no limit is checked.
 * Only when that hold is gone (it expired) does the new owner need a free
 * slot, as in ACQUIRE.
 */
const TRANSFER = `
  local held = redis.call('ZREM', KEYS[1], ARGV[7])
  redis.call('ZREM', KEYS[2], ARGV[7])
  if held == 0 then${RETURN_UNLESS_FREE}
  end${HOLD}`

const RELEASE = `
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1`

function keys(tenantId: number, endpointId: number): [string, string] {
  const tag = `{${queuePrefix()}:wh:${tenantId}}`
  return [`${tag}:endpoint:${endpointId}`, `${tag}:tenant`]
}

export interface SlotLimits {
  perEndpoint: number
  perTenant: number
  /** how long a hold lasts unless given back (a dead worker's expires) */
  holdMs: number
}

/** ACQUIRE's arguments (TRANSFER's first six) for a hold of `owner`. */
function holdArgs(owner: string, { perEndpoint, perTenant, holdMs }: SlotLimits) {
  const now = Date.now()
  return [now, now + holdMs, owner, perEndpoint, perTenant, holdMs * 2]
}

export async function acquireSlot(
  tenantId: number,
  endpointId: number,
  owner: string,
  limits: SlotLimits
): Promise<boolean> {
  const result = await queueRedis().eval(
    ACQUIRE,
    2,
    ...keys(tenantId, endpointId),
    ...holdArgs(owner, limits)
  )
  return Number(result) === 1
}

/**
 * Gives the owner's slot back. When a delivery of this process waits for a
 * slot of the same endpoint (`waitForSlot`), the slot goes to the one that
 * has waited longest instead, in the same round trip.
 */
export async function releaseSlot(tenantId: number, endpointId: number, owner: string) {
  const [endpointKey, tenantKey] = keys(tenantId, endpointId)
  const napper = takeNapper(endpointKey)
  if (!napper) {
    await queueRedis().eval(RELEASE, 2, endpointKey, tenantKey, owner)
    return
  }
  let handedOver = false
  try {
    const result = await queueRedis().eval(
      TRANSFER,
      2,
      endpointKey,
      tenantKey,
      ...holdArgs(napper.owner, napper.limits),
      owner
    )
    handedOver = Number(result) === 1
  } finally {
    // Not handed over (no slot, or the script failed): the napper tries
    // for one itself.
    napper.end(handedOver ? 'granted' : 'woken')
  }
}

/** How a nap ended: a slot handed over, a release that could not, or its time. */
type NapEnd = 'granted' | 'woken' | 'timeout'

interface Napper {
  owner: string
  limits: SlotLimits
  /** ends the nap; called once, by a release that took it or by its timer */
  end(how: NapEnd): void
}

/**
 * The deliveries of this process napping for a slot, per endpoint key, in
 * arrival order, and how many deliveries wait, per endpoint key and in all
 * (napping or trying again).
 */
const napping = new Map<string, Napper[]>()
const waitersOf = new Map<string, number>()
let waitingTotal = 0

/**
 * Takes the endpoint's longest napper off its queue: from then on only the
 * caller ends its nap, never its timer.
 */
function takeNapper(endpointKey: string): Napper | undefined {
  const queue = napping.get(endpointKey)
  if (!queue) return undefined
  const napper = queue.shift()
  if (queue.length === 0) napping.delete(endpointKey)
  return napper
}

/**
 * Naps until a release of this endpoint in this process takes it (and
 * hands over its slot, or could not), or `ms` pass.
 */
function nap(endpointKey: string, owner: string, limits: SlotLimits, ms: number): Promise<NapEnd> {
  return new Promise((resolve) => {
    const queue = napping.get(endpointKey) ?? []
    napping.set(endpointKey, queue)
    const napper: Napper = {
      owner,
      limits,
      end(how) {
        clearTimeout(timer)
        resolve(how)
      },
    }
    const timer = setTimeout(() => {
      const index = queue.indexOf(napper)
      // not in the queue: a release took it and ends the nap itself
      if (index === -1) return
      queue.splice(index, 1)
      if (queue.length === 0) napping.delete(endpointKey)
      resolve('timeout')
    }, ms)
    queue.push(napper)
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
 * process: handed over by a release of the same endpoint here, or after a
 * short nap (10 ms, doubling up to 100 ms) tried again, for slots held by
 * other processes or by the tenant's other endpoints. Gives up (false)
 * after `maxWaitMs`, or at once when `maxWaiters` deliveries of the
 * endpoint, or `maxWaitingTotal` of any, already wait here, so the
 * deliveries behind a hanging endpoint never take more of the process's
 * concurrency than that: the caller then puts the job back in the queue.
 * True means the owner holds a slot, to give back with releaseSlot.
 */
export async function waitForSlot(
  tenantId: number,
  endpointId: number,
  owner: string,
  limits: SlotLimits,
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
      const ms = Math.min(napMs, Math.max(1, deadline - Date.now()))
      if ((await nap(endpointKey, owner, limits, ms)) === 'granted') return true
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
