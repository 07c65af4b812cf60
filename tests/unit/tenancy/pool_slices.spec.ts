import { test } from '@japa/runner'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import { laneSlices, runtimeSlices, WEBHOOK_LANE } from '#config/database'
import env from '#start/env'
import { currentTenant, inTenantOneRoundTrip, withTenant } from '#tenancy/context'
import { poolOf, runtimePool, SliceScheduler, type SliceLease } from '#tenancy/pool_slices'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'

/**
 * Tenant-affine slices of the runtime pool (app/tenancy/pool_slices.ts,
 * docs/design/pool_slices.md): the scheduler on its own, then the real
 * pool, watching which backends (pg_backend_pid) serve each tenant.
 */

const slices = (...sizes: number[]) =>
  sizes.map((max, index) => ({ connection: `slice_${index}`, max }))

/** A tenant id whose home slice is `slice` in `scheduler`. */
function tenantOn(scheduler: SliceScheduler, slice: number, from = 1): number {
  for (let id = from; ; id++) if (scheduler.homeOf(id) === slice) return id
}

function settled(promise: Promise<unknown>) {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true)
  )
  return () => done
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test.group('Pool slices: the scheduler', () => {
  test('a tenant always has the same home slice, and tenants spread over every slice', ({
    assert,
  }) => {
    const scheduler = new SliceScheduler(slices(2, 2, 2, 2, 2))
    const counts = [0, 0, 0, 0, 0]
    for (let id = 1; id <= 5000; id++) {
      const home = scheduler.homeOf(id)
      assert.equal(scheduler.homeOf(id), home)
      counts[home]++
    }
    for (const count of counts) assert.isAbove(count, 800)
  })

  test('takes the home slice while it has a free connection', async ({ assert }) => {
    const scheduler = new SliceScheduler(slices(2, 2, 2))
    const tenant = tenantOn(scheduler, 1)
    const first = await scheduler.acquire(tenant)
    const second = await scheduler.acquire(tenant)
    assert.deepEqual([first.slice, second.slice], [1, 1])
    assert.isFalse(first.borrowed || second.borrowed)
  })

  test('borrows from the slice with the most free connections when the home slice is full', async ({
    assert,
  }) => {
    const scheduler = new SliceScheduler(slices(2, 2, 2))
    const home = tenantOn(scheduler, 0)
    const other = tenantOn(scheduler, 1)
    await scheduler.acquire(home)
    await scheduler.acquire(home)
    await scheduler.acquire(other)
    const borrowed = await scheduler.acquire(home)
    assert.equal(borrowed.slice, 2)
    assert.isTrue(borrowed.borrowed)
    assert.equal(scheduler.borrowedTotal, 1)
  })

  test('a single tenant gets the whole pool, then waits; never more leases than connections', async ({
    assert,
  }) => {
    const scheduler = new SliceScheduler(slices(2, 2, 2))
    const tenant = tenantOn(scheduler, 0)
    const leases = await Promise.all(Array.from({ length: 6 }, () => scheduler.acquire(tenant)))
    assert.deepEqual(leases.map((lease) => lease.slice).sort(), [0, 0, 1, 1, 2, 2])
    const waiting = scheduler.acquire(tenant)
    const done = settled(waiting)
    await tick()
    assert.isFalse(done())
    assert.deepEqual(
      scheduler.stats().map((slice) => [slice.leased, slice.waiting]),
      [
        [2, 1],
        [2, 0],
        [2, 0],
      ]
    )
    // A connection of another slice freed: it goes to the waiter (borrowed)
    leases[5].release()
    leases[5].release() // a second release changes nothing
    const lease = await waiting
    assert.equal(lease.slice, leases[5].slice)
    assert.deepEqual(
      scheduler.stats().map((slice) => slice.leased),
      [2, 2, 2]
    )
  })

  test("a freed connection goes to its own slice's waiter first, else to the oldest waiter", async ({
    assert,
  }) => {
    const scheduler = new SliceScheduler(slices(1, 1))
    const a = tenantOn(scheduler, 0)
    const b = tenantOn(scheduler, 1)
    const heldA = await scheduler.acquire(a)
    const heldB = await scheduler.acquire(b)
    const order: string[] = []
    const firstA = scheduler.acquire(a).then((lease) => (order.push('a1'), lease))
    const secondA = scheduler.acquire(a).then((lease) => (order.push('a2'), lease))
    const waitingB = scheduler.acquire(b).then((lease) => (order.push('b'), lease))

    // slice 1 frees: its own waiter (b) goes first, though a1 waited longer
    heldB.release()
    const leaseB = await waitingB
    assert.equal(leaseB.slice, 1)
    assert.deepEqual(order, ['b'])

    // slice 1 frees again with no waiter of its own: the oldest waiter (a1) borrows it
    leaseB.release()
    const leaseA1 = await firstA
    assert.equal(leaseA1.slice, 1)
    assert.isTrue(leaseA1.borrowed)

    heldA.release()
    const leaseA2 = await secondA
    assert.equal(leaseA2.slice, 0)
    assert.deepEqual(order, ['b', 'a1', 'a2'])
  })

  test("a wait past the acquire timeout fails as knex's pool does", async ({ assert }) => {
    const scheduler = new SliceScheduler(slices(1), 50)
    const held: SliceLease = await scheduler.acquire(7)
    await assert.rejects(() => scheduler.acquire(7), /Timeout acquiring a connection/)
    assert.equal(scheduler.stats()[0].waiting, 0)
    held.release()
    const lease = await scheduler.acquire(7)
    assert.equal(lease.slice, 0)
  })
})

/** The backends that serve `count` transactions of the tenant, one after another. */
async function backendsOf(tenant: GivenTenant, count = 12): Promise<Set<number>> {
  const pids = new Set<number>()
  for (let run = 0; run < count; run++) {
    await withTenant(tenant.id, async (trx) => {
      const { rows } = await trx.rawQuery('select pg_backend_pid() as pid')
      pids.add(rows[0].pid)
    })
  }
  return pids
}

/** Tenants until two of them have different home slices. */
async function tenantsOnTwoSlices(): Promise<[GivenTenant, GivenTenant]> {
  const first = await givenTenant()
  for (;;) {
    const next = await givenTenant()
    if (runtimePool.homeOf(next.id) !== runtimePool.homeOf(first.id)) return [first, next]
  }
}

/** A connection of each of these Lucid connections has no tenant on it. */
async function assertNoTenantLeft(assert: Assert, connections: string[]) {
  for (const connection of connections) {
    const { rows } = await db
      .connection(connection)
      .rawQuery(`select current_setting('search_path') as path`)
    assert.equal(rows[0].path, '"$user", public')
  }
}

/** The backend of a transaction. */
async function pidOf(trx: { rawQuery(sql: string): Promise<any> }): Promise<number> {
  const { rows } = await trx.rawQuery('select pg_backend_pid() as pid')
  return rows[0].pid
}

/**
 * `count` transactions of the tenant (on `lane`, if given) held open until
 * `release()`; resolves once all of them are running, with their backends.
 */
async function holdTransactions(tenantId: number, count: number, lane?: string) {
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const pids = new Set<number>()
  const holders = Array.from({ length: count }, () =>
    withTenant(
      tenantId,
      async (trx) => {
        pids.add(await pidOf(trx))
        await gate
      },
      { lane }
    )
  )
  while (pids.size < count) await tick()
  return {
    pids,
    async release() {
      open()
      await Promise.all(holders)
    },
  }
}

test.group('Pool slices: the runtime pool', () => {
  test('the slices add up to DB_POOL_MAX: no more server connections than one pool', ({
    assert,
  }) => {
    const total = runtimeSlices.reduce((sum, slice) => sum + slice.max, 0)
    assert.equal(total, env.get('DB_POOL_MAX', 10))
    assert.isAbove(runtimeSlices.length, 1)
    for (const slice of runtimeSlices) {
      assert.equal(db.getRawConnection(slice.connection)?.config.pool?.max, slice.max)
    }
  })

  test("a tenant's transactions run on its home slice's backends, another slice's tenant on others", async ({
    assert,
  }) => {
    const [a, b] = await tenantsOnTwoSlices()
    const slice = (tenant: GivenTenant) => runtimeSlices[runtimePool.homeOf(tenant.id)]
    const pidsA = await backendsOf(a)
    const pidsB = await backendsOf(b)
    assert.isAtMost(pidsA.size, slice(a).max)
    assert.isAtMost(pidsB.size, slice(b).max)
    assert.deepEqual(
      [...pidsA].filter((pid) => pidsB.has(pid)),
      []
    )
    // and again: the same backends (the pool keeps them)
    for (const pid of await backendsOf(a)) assert.isTrue(pidsA.has(pid))
  })

  test('a tenant whose home slice is saturated borrows another slice, entered for itself only', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const home = runtimeSlices[runtimePool.homeOf(tenant.id)]
    const homePids = await backendsOf(tenant)

    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    let started = 0
    const holders = Array.from({ length: home.max }, () =>
      withTenant(tenant.id, async () => {
        started++
        await gate
      })
    )
    try {
      while (started < home.max) await tick()
      const borrowed = await withTenant(tenant.id, async (trx) => {
        const { rows } = await trx.rawQuery(
          `select pg_backend_pid() as pid, current_setting('search_path') as path`
        )
        return { ...rows[0], tenantId: currentTenant().tenantId }
      })
      assert.isFalse(homePids.has(borrowed.pid))
      assert.equal(borrowed.path, `"${tenant.schemaName}", public`)
      assert.equal(borrowed.tenantId, tenant.id)
    } finally {
      open()
      await Promise.all(holders)
    }
    // the borrowed connection went back with no tenant on it
    await assertNoTenantLeft(
      assert,
      runtimeSlices.map((slice) => slice.connection)
    )
  })

  test('the webhook lane: its own connections, entered per transaction, free while every tenant slice is held', async ({
    assert,
  }) => {
    const [lane] = laneSlices
    assert.equal(lane.lane, WEBHOOK_LANE)
    assert.equal(db.getRawConnection(lane.connection)?.config.pool?.max, lane.max)
    const [a, b] = await tenantsOnTwoSlices()

    // Every tenant slice held by other transactions
    const total = runtimeSlices.reduce((sum, slice) => sum + slice.max, 0)
    const held = await holdTransactions(a.id, total)
    const holderPids = held.pids
    try {
      const seen = await Promise.all(
        [a, b, a, b].map(async (tenant) => {
          const [rows] = await inTenantOneRoundTrip(
            tenant.id,
            [
              `select pg_backend_pid() as pid, current_setting('search_path') as path,
                 (select count(*) from webhook_endpoints)::int as endpoints`,
            ],
            { lane: WEBHOOK_LANE }
          )
          return { tenant, ...(rows[0] as { pid: number; path: string }) }
        })
      )
      for (const row of seen) {
        assert.equal(row.path, `"${row.tenant.schemaName}", public`)
        assert.isFalse(holderPids.has(row.pid))
      }
      assert.isAtMost(new Set(seen.map((row) => row.pid)).size, lane.max)
      const pid = await withTenant(b.id, pidOf, { lane: WEBHOOK_LANE })
      assert.isFalse(holderPids.has(pid))
    } finally {
      await held.release()
    }
    await assertNoTenantLeft(assert, [lane.connection])
  })

  test("the webhook lane is a bulkhead: when full it waits for its own connections, never a tenant slice's", async ({
    assert,
  }) => {
    const [lane] = laneSlices
    assert.strictEqual(poolOf(), runtimePool)
    assert.strictEqual(poolOf('no such lane'), runtimePool)
    assert.notStrictEqual(poolOf(WEBHOOK_LANE), runtimePool)
    const tenant = await givenTenant()
    const held = await holdTransactions(tenant.id, lane.max, WEBHOOK_LANE)
    const lanePids = held.pids
    try {
      let ran = false
      const waiting = withTenant(
        tenant.id,
        async (trx) => {
          ran = true
          return pidOf(trx)
        },
        { lane: WEBHOOK_LANE }
      )
      // the tenant slices are free and serve other transactions meanwhile
      const tenantPid = await withTenant(tenant.id, pidOf)
      assert.isFalse(lanePids.has(tenantPid))
      for (let turn = 0; turn < 20; turn++) await tick()
      assert.isFalse(ran)
      assert.equal(poolOf(WEBHOOK_LANE).stats()[0].waiting, 1)
      await held.release()
      assert.isTrue(lanePids.has(await waiting))
    } finally {
      await held.release()
    }
  })
})
