import db from '@adonisjs/lucid/services/db'
import { acquireTimeoutMs, laneSlices, runtimeSlices, type RuntimeSlice } from '#config/database'
import { retiredConnections } from '#tenancy/connection_cap'

/**
 * Tenant-affine slices of the runtime pool (docs/design/pool_slices.md).
 *
 * The runtime pool is `runtimeSlices` (config/database.ts): Lucid
 * connections whose sizes add up to DB_POOL_MAX. A tenant's home slice is
 * a hash of its id, so its transactions run on the same few backends and
 * each backend caches the catalog entries (relcache, catcache) of about
 * 1/N of the tenants instead of all of them.
 *
 * The scheduler hands out the right to run one transaction on a slice (a
 * lease), never more leases on a slice than its pool has connections, so
 * the slice's own pool never queues a tenant transaction. It is
 * work-conserving: a connection is never left idle while a transaction
 * waits.
 * - A transaction takes a free connection of its home slice; when the
 *   home slice is full, it borrows one of the slice with the most free
 *   connections, if any slice has one and no waiter of its own.
 * - Otherwise it waits in its home slice's queue (FIFO).
 * - A released connection goes to the oldest waiter of its own slice,
 *   else to the oldest waiter of any slice (borrowed).
 * So a single busy tenant still gets the whole pool when the other slices
 * are idle, while under load from many tenants each slice mostly serves
 * its own. A tenant flooding the pool only takes another slice's
 * connections when that slice has no waiter of its own.
 *
 * A wait longer than the pool's acquire timeout fails as knex's pool does
 * (a 503, app/exceptions/database_errors.ts).
 */

export interface SliceLease {
  /** index in runtimeSlices */
  slice: number
  /** the Lucid connection the transaction runs on */
  connection: string
  /** whether the slice is not the tenant's home slice */
  borrowed: boolean
  /** gives the slice's connection back; once */
  release(): void
}

/**
 * The error knex raises when its pool has no connection in time; the
 * error mapping knows it by this name (a 503).
 */
export class PoolAcquireTimeoutError extends Error {
  override name = 'KnexTimeoutError'
  constructor() {
    super('Timeout acquiring a connection of the runtime pool. The pool is probably full.')
  }
}

interface Waiter {
  home: number
  seq: number
  grant(slice: number): void
}

interface SliceState {
  max: number
  inUse: number
  waiters: Waiter[]
}

export interface SliceStats {
  connection: string
  max: number
  /** leases out (transactions running or about to) */
  leased: number
  /** transactions waiting in this slice's queue */
  waiting: number
}

/**
 * A 32-bit integer mix (murmur3's finalizer): neighbouring tenant ids land
 * on unrelated slices.
 */
export function sliceHash(tenantId: number): number {
  let h = (tenantId ^ Math.floor(tenantId / 0x1_0000_0000)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export class SliceScheduler {
  private slices: SliceState[]
  private seq = 0
  /** leases taken off the home slice since the start */
  borrowedTotal = 0

  constructor(
    readonly config: RuntimeSlice[],
    private timeoutMs: number = acquireTimeoutMs
  ) {
    if (config.length === 0) throw new RangeError('a runtime pool needs at least one slice')
    this.slices = config.map((slice) => ({ max: slice.max, inUse: 0, waiters: [] }))
  }

  /** The home slice of a tenant. */
  homeOf(tenantId: number): number {
    return this.slices.length === 1 ? 0 : sliceHash(tenantId) % this.slices.length
  }

  /** The Lucid connection of a tenant's home slice. */
  homeConnection(tenantId: number): string {
    return this.config[this.homeOf(tenantId)].connection
  }

  /**
   * A lease on the tenant's home slice, or on another one when the home
   * slice is full and another has a free connection; else waits.
   */
  acquire(tenantId: number): Promise<SliceLease> {
    const home = this.homeOf(tenantId)
    const own = this.slices[home]
    if (own.inUse < own.max && own.waiters.length === 0) {
      return Promise.resolve(this.lease(home, home))
    }
    const lender = this.lender(home)
    if (lender !== null) return Promise.resolve(this.lease(lender, home))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        home,
        seq: ++this.seq,
        grant: (slice) => {
          clearTimeout(timer)
          resolve(this.lease(slice, home))
        },
      }
      const timer = setTimeout(() => {
        const queue = this.slices[home].waiters
        const index = queue.indexOf(waiter)
        if (index !== -1) queue.splice(index, 1)
        reject(new PoolAcquireTimeoutError())
      }, this.timeoutMs)
      own.waiters.push(waiter)
    })
  }

  stats(): SliceStats[] {
    return this.slices.map((slice, index) => ({
      connection: this.config[index].connection,
      max: slice.max,
      leased: slice.inUse,
      waiting: slice.waiters.length,
    }))
  }

  /** The slice with the most free connections and no waiter, other than `home`. */
  private lender(home: number): number | null {
    let best: number | null = null
    let bestFree = 0
    this.slices.forEach((slice, index) => {
      const free = slice.max - slice.inUse
      if (index !== home && free > bestFree && slice.waiters.length === 0) {
        best = index
        bestFree = free
      }
    })
    return best
  }

  private lease(slice: number, home: number): SliceLease {
    this.slices[slice].inUse++
    if (slice !== home) this.borrowedTotal++
    let released = false
    return {
      slice,
      connection: this.config[slice].connection,
      borrowed: slice !== home,
      release: () => {
        if (released) return
        released = true
        this.release(slice)
      },
    }
  }

  private release(slice: number) {
    const state = this.slices[slice]
    state.inUse--
    const next = state.waiters.shift() ?? this.oldestWaiter()
    if (next) next.grant(slice)
  }

  /** The longest-waiting transaction of any slice, taken off its queue. */
  private oldestWaiter(): Waiter | undefined {
    let queue: Waiter[] | undefined
    for (const slice of this.slices) {
      const head = slice.waiters[0]
      if (head && (!queue || head.seq < queue[0].seq)) queue = slice.waiters
    }
    return queue?.shift()
  }
}

/** The runtime pool's scheduler of this process. */
export const runtimePool = new SliceScheduler(runtimeSlices)

/**
 * The lanes of the runtime pool (config/database.ts, `laneSlices`): each a
 * scheduler of its own connections, which lends none to the tenant slices
 * and borrows none of theirs (a bulkhead). The work of a lane (the
 * webhook deliveries of a worker) then never waits behind the tenant
 * slices' transactions (the confirmations' longer ones), and never adds
 * to their queue or to the server's concurrency beyond its own
 * connections.
 */
const lanes = new Map(
  laneSlices.map((slice) => [slice.lane as string, new SliceScheduler([slice])])
)

/** The scheduler of a lane, or the tenant slices' for none (or an unknown lane). */
export function poolOf(lane?: string): SliceScheduler {
  return (lane === undefined ? undefined : lanes.get(lane)) ?? runtimePool
}

/**
 * Connections of the runtime pool's slices and lanes added up (knex's tarn pools)
 * and the transactions waiting for one, in the scheduler's queues or in a
 * pool's own (queries outside a tenant transaction, e.g. the health check),
 * the transactions run off their home slice and the connections retired at
 * their tenant cap (app/tenancy/connection_cap.ts) since the start.
 */
export function runtimePoolUsage() {
  let inUse = 0
  let idle = 0
  let waiting = 0
  for (const slice of [runtimePool, ...lanes.values()].flatMap((pool) => pool.stats())) {
    const pool = db.manager.get(slice.connection)?.connection?.pool
    inUse += pool?.numUsed() ?? 0
    idle += pool?.numFree() ?? 0
    waiting += slice.waiting + (pool?.numPendingAcquires() ?? 0)
  }
  return {
    inUse,
    idle,
    waiting,
    borrowed: runtimePool.borrowedTotal,
    retired: retiredConnections(),
  }
}
