import { setTimeout as sleep } from 'node:timers/promises'
import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type { PostgreConfig } from '@adonisjs/lucid/types/database'
import { maxTenantsPerConnection, runtimeSlices, transactionLimits } from '#config/database'
import { acceptsMoreTenants, retiredConnections, tenantsServed } from '#tenancy/connection_cap'
import {
  admittedReadInOneRoundTrip,
  enterSql,
  inTenantOneRoundTrip,
  withTenant,
} from '#tenancy/context'
import { beginWithEntry, runInOneRoundTrip } from '#tenancy/tenant_transaction'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'

/**
 * The cap on distinct tenants per pooled connection
 * (app/tenancy/connection_cap.ts, DB_CONNECTION_MAX_TENANTS): the runtime
 * pool is checked as configured and wired; the retirement itself is
 * proven on small pools built from the runtime pool's configuration with a
 * small cap, running real tenant transactions through the same entry path
 * as withTenant and watching the backend pids.
 */

interface TarnPool {
  free: { resource: object }[]
  numUsed(): number
  numFree(): number
  numPendingAcquires(): number
  numPendingCreates(): number
}

let counter = 0

function runtimeConfig(): PostgreConfig {
  return db.getRawConnection(runtimeSlices[0].connection)!.config as PostgreConfig
}

function tarnPool(connection: string): TarnPool {
  return db.connection(connection).getWriteClient().client.pool as unknown as TarnPool
}

async function withCappedPool<T>(
  max: number,
  cap: number,
  fn: (name: string) => Promise<T>
): Promise<T> {
  const name = `capped_${process.pid}_${++counter}`
  const base = runtimeConfig()
  db.manager.add(name, {
    ...base,
    pool: { ...base.pool, min: 0, max, validate: acceptsMoreTenants(cap) },
  })
  db.manager.connect(name)
  try {
    return await fn(name)
  } finally {
    await db.manager.close(name, true)
  }
}

interface Seen {
  pid: number
  path: string
}

/** A tenant transaction as withTenant runs it (entry with BEGIN), on `connection`. */
async function transaction(connection: string, tenant: GivenTenant): Promise<Seen> {
  const { trx, results } = await beginWithEntry(
    [enterSql(tenant.id, transactionLimits.request)],
    connection,
    tenant.id
  )
  try {
    if (results[0][0]?.status !== 'active') throw new Error(`tenant ${tenant.id} not entered`)
    const { rows } = await trx.rawQuery(
      `select pg_backend_pid() as pid, current_setting('search_path') as path, count(*)::int as n from products`
    )
    await trx.commit()
    return { pid: rows[0].pid, path: rows[0].path }
  } catch (error) {
    if (!trx.isCompleted) await trx.rollback()
    throw error
  }
}

/** A tenant transaction in one round trip, as inTenantOneRoundTrip runs it. */
async function oneRoundTrip(connection: string, tenant: GivenTenant): Promise<Seen> {
  const [entry, rows] = await runInOneRoundTrip(
    [
      enterSql(tenant.id, transactionLimits.request),
      `select pg_backend_pid() as pid, current_setting('search_path') as path`,
    ],
    connection,
    tenant.id
  )
  if (entry[0]?.status !== 'active') throw new Error(`tenant ${tenant.id} not entered`)
  return { pid: rows[0].pid, path: rows[0].path }
}

/** The backend pid a transaction (`run`) for `tenant` ran on. */
function pidOf(
  connection: string,
  tenant: GivenTenant,
  run: typeof transaction = transaction
): Promise<number> {
  return run(connection, tenant).then((seen) => seen.pid)
}

/** How many of `pids` are still running backends. */
async function liveBackends(pids: number[]): Promise<number> {
  const alive = await Promise.all(pids.map(backendAlive))
  return alive.filter(Boolean).length
}

async function backendAlive(pid: number): Promise<boolean> {
  const { rows } = await db.rawQuery('select 1 from pg_stat_activity where pid = ?', [pid])
  return rows.length === 1
}

async function backendEnds(pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (!(await backendAlive(pid))) return true
    await sleep(50)
  }
  return false
}

let tenants: GivenTenant[] = []

test.group('Connection tenant cap', (group) => {
  group.setup(async () => {
    tenants = []
    for (let index = 0; index < 5; index++) tenants.push(await givenTenant())
  })

  test('the runtime pool caps the distinct tenants of each connection', ({ assert }) => {
    assert.isAbove(maxTenantsPerConnection, 0)
    for (const slice of runtimeSlices) {
      const validate = db.getRawConnection(slice.connection)?.config.pool?.validate
      assert.isFunction(validate)
    }
  })

  test('withTenant, inTenantOneRoundTrip and admittedReadInOneRoundTrip note their tenant on the connection they ran on', async ({
    assert,
  }) => {
    /** whether an idle connection of the runtime pool has served `tenant` */
    const noted = (tenant: GivenTenant) =>
      runtimeSlices.some((slice) =>
        tarnPool(slice.connection).free.some(({ resource }) =>
          tenantsServed(resource).has(tenant.id)
        )
      )
    const [fresh, other, listed] = [await givenTenant(), await givenTenant(), await givenTenant()]
    assert.isFalse(noted(fresh))
    await withTenant(fresh.id, async (trx) => trx.rawQuery('select 1'))
    assert.isTrue(noted(fresh))

    assert.isFalse(noted(other))
    await inTenantOneRoundTrip(other.id, ['select 1'])
    assert.isTrue(noted(other))

    assert.isFalse(noted(listed))
    await admittedReadInOneRoundTrip(listed.id, ['select 1'], {
      admission: { sql: 'select 1', read: () => null },
      check: () => {},
    })
    assert.isTrue(noted(listed))
    for (const slice of runtimeSlices) assert.equal(tarnPool(slice.connection).numUsed(), 0)
  })

  test('a connection serves up to its cap of distinct tenants, then is retired after its transaction', async ({
    assert,
  }) => {
    const [a, b, c, d] = tenants
    await withCappedPool(1, 3, async (name) => {
      // a, b, a, c: three distinct tenants, one backend (repeats do not count)
      const first = await transaction(name, a)
      assert.equal(await pidOf(name, b, oneRoundTrip), first.pid)
      assert.equal(await pidOf(name, a), first.pid)
      const third = await transaction(name, c)
      assert.equal(third.pid, first.pid)
      assert.equal(third.path, `"${c.schemaName}", public`)

      // at its cap: the next transaction, for any tenant, runs on a new backend
      const retired = retiredConnections()
      const next = await transaction(name, a)
      assert.equal(retiredConnections(), retired + 1)
      assert.notEqual(next.pid, first.pid)
      assert.equal(next.path, `"${a.schemaName}", public`)
      assert.isTrue(await backendEnds(first.pid))

      // and the new connection starts counting from its own first tenant
      assert.equal(await pidOf(name, d, oneRoundTrip), next.pid)
      assert.equal(tarnPool(name).numUsed(), 0)
    })
  })

  test('one tenant alone never retires a connection', async ({ assert }) => {
    const [a] = tenants
    await withCappedPool(1, 2, async (name) => {
      const first = await transaction(name, a)
      for (let index = 0; index < 5; index++) {
        assert.equal(await pidOf(name, a), first.pid)
        assert.equal(await pidOf(name, a, oneRoundTrip), first.pid)
      }
    })
  })

  test('under concurrent load every transaction commits, no backend exceeds the cap, nothing leaks', async ({
    assert,
  }) => {
    const cap = 2
    await withCappedPool(3, cap, async (name) => {
      const seen = await Promise.all(
        Array.from({ length: 60 }, (_, index) => {
          const tenant = tenants[index % tenants.length]
          const run = index % 3 === 0 ? oneRoundTrip : transaction
          return run(name, tenant).then((row) => ({ ...row, tenant }))
        })
      )
      const byBackend = new Map<number, Set<number>>()
      for (const row of seen) {
        assert.equal(row.path, `"${row.tenant.schemaName}", public`)
        const served = byBackend.get(row.pid) ?? new Set()
        served.add(row.tenant.id)
        byBackend.set(row.pid, served)
      }
      for (const served of byBackend.values()) assert.isAtMost(served.size, cap)
      // 5 tenants over backends of at most 2 each: some were retired
      assert.isAtLeast(byBackend.size, 3)

      const pool = tarnPool(name)
      assert.equal(pool.numUsed(), 0)
      assert.equal(pool.numPendingAcquires(), 0)
      assert.isAtMost(pool.numFree(), 3)
      // a retired connection's backend ends; the pool keeps at most 3
      const pids = [...byBackend.keys()]
      let live = await liveBackends(pids)
      for (let attempt = 0; attempt < 100 && live > 3; attempt++) {
        await sleep(50)
        live = await liveBackends(pids)
      }
      assert.isAtMost(live, 3)
    })
  })
})
