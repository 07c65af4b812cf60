import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type { HttpContext } from '@adonisjs/core/http'
import TenantMiddleware from '#middleware/tenant_middleware'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { currentTenant, tenantQuery, withTenant } from '#tenancy/context'
import { TenantLifecycle } from '#tenancy/tenant_lifecycle'
import {
  MissingTenantContextException,
  TenantNotFoundException,
  TenantSuspendedException,
} from '#exceptions/tenancy'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import platform from '#tests/support/platform_db'

const DEFAULT_SEARCH_PATH = '"$user", public'
const TENANTS = 10
const TRANSACTIONS_PER_TENANT = 12

interface Observation {
  tenantId: number
  pid: number
  searchPath: string
  skus: string[]
}

/**
 * The default search_path of every pooled connection: as many concurrent
 * queries as the pool has connections, each held a moment so they spread
 * over distinct connections.
 */
async function pooledSearchPaths() {
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      db.rawQuery(
        `select pg_backend_pid() as pid, current_setting('search_path') as search_path,
                pg_sleep(0.02) is null as slept`
      )
    )
  )
  return results.map((result) => result.rows[0] as { pid: number; search_path: string })
}

async function skusIn(tenant: GivenTenant, prefix: string) {
  const { rows } = await platform.rawQuery(
    `select sku from "${tenant.schemaName}".products where sku like ? order by sku`,
    [`${prefix}%`]
  )
  return rows.map((row: { sku: string }) => row.sku)
}

test.group('Tenant isolation on the shared pool', (group) => {
  let tenants: GivenTenant[] = []

  group.setup(async () => {
    tenants = []
    for (let index = 0; index < TENANTS; index++) tenants.push(await givenTenant())
  })

  test('interleaved concurrent transactions of {tenants} tenants each see only their own rows')
    .with([{ tenants: TENANTS }])
    .run(async ({ assert }) => {
      // Interleaved: consecutive transactions belong to different tenants,
      // and 120 of them share a pool of 8 connections.
      const work: Promise<Observation>[] = []
      for (let round = 0; round < TRANSACTIONS_PER_TENANT; round++) {
        for (const tenant of tenants) {
          work.push(
            withTenant(tenant.id, async (trx) => {
              const sku = `iso-${tenant.id}-${round}`
              await trx
                .insertQuery()
                .table('products')
                .insert({ name: sku, sku, price: '1.00', stock: 1 })
              await trx.rawQuery('select pg_sleep(random() * 0.005)')
              const { rows } = await trx.rawQuery(
                `select pg_backend_pid() as pid, current_setting('search_path') as search_path`
              )
              const skus = await tenantQuery('products').where('sku', 'like', 'iso-%').select('sku')
              assert.equal(currentTenant().tenantId, tenant.id)
              return {
                tenantId: tenant.id,
                pid: rows[0].pid,
                searchPath: rows[0].search_path,
                skus: skus.map((row: { sku: string }) => row.sku),
              }
            })
          )
        }
      }
      const observations = await Promise.all(work)

      for (const observation of observations) {
        assert.equal(observation.searchPath, `"tenant_${observation.tenantId}", public`)
        assert.isNotEmpty(observation.skus)
        for (const sku of observation.skus) {
          assert.isTrue(sku.startsWith(`iso-${observation.tenantId}-`), sku)
        }
      }

      // The pool was shared: connections served transactions of several tenants.
      const tenantsPerConnection = new Map<number, Set<number>>()
      for (const { pid, tenantId } of observations) {
        tenantsPerConnection.set(pid, (tenantsPerConnection.get(pid) ?? new Set()).add(tenantId))
      }
      assert.isAtMost(tenantsPerConnection.size, 8)
      assert.isTrue([...tenantsPerConnection.values()].some((served) => served.size > 1))

      // Every row landed in its own tenant's schema, and only there.
      for (const tenant of tenants) {
        const skus = await skusIn(tenant, 'iso-')
        assert.lengthOf(skus, TRANSACTIONS_PER_TENANT)
        assert.isTrue(skus.every((sku: string) => sku.startsWith(`iso-${tenant.id}-`)))
      }
    })

  test('connections return to the pool with the default search_path', async ({ assert }) => {
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        tenants.map((tenant) =>
          withTenant(tenant.id, async (trx) => {
            await trx.rawQuery('select 1 from products limit 1')
          })
        )
      )
      await withTenant(tenants[round].id, async () => {
        throw new Error('rolled back')
      }).catch(() => {})

      for (const row of await pooledSearchPaths()) {
        assert.equal(row.search_path, DEFAULT_SEARCH_PATH)
      }
      const { rows } = await db.rawQuery(`select current_setting('search_path') as search_path`)
      assert.equal(rows[0].search_path, DEFAULT_SEARCH_PATH)
    }
  })

  test('a tenant table is not reachable without a tenant transaction', async ({ assert }) => {
    const error = await db.rawQuery('select count(*) from products').catch((e) => e)
    assert.equal(error.code, '42P01')
  })

  test('a throwing withTenant leaves nothing committed', async ({ assert }) => {
    const tenant = tenants[0]
    await assert.rejects(
      () =>
        withTenant(tenant.id, async (trx) => {
          const [product] = await trx
            .insertQuery()
            .table('products')
            .insert({ name: 'doomed', sku: 'doomed-1', price: '2.00', stock: 3 })
            .returning('id')
          await trx.insertQuery().table('stock_movements').insert({
            product_id: product.id,
            delta: 3,
            kind: 'initial',
          })
          await trx.insertQuery().table('outbox').insert({ job: 'doomed', ref_id: product.id })
          throw new Error('boom')
        }),
      'boom'
    )
    assert.deepEqual(await skusIn(tenant, 'doomed'), [])
    const { rows } = await platform.rawQuery(
      `select (select count(*) from "${tenant.schemaName}".outbox where job = 'doomed') as outbox,
              (select count(*) from "${tenant.schemaName}".stock_movements) as movements`
    )
    assert.deepEqual(rows[0], { outbox: 0, movements: 0 })
  })

  test('tenant code outside a tenant scope fails closed', async ({ assert }) => {
    assert.throws(() => tenantQuery('products'), MissingTenantContextException as any)
    assert.throws(() => currentTenant(), MissingTenantContextException as any)

    // A callback that outlives its scope cannot use the finished transaction.
    let leaked: (() => unknown) | undefined
    await withTenant(tenants[0].id, async () => {
      leaked = () => tenantQuery('products')
    })
    assert.throws(() => leaked!(), MissingTenantContextException as any)

    const error = await withTenant(987654321, async () => 'never').catch((e) => e)
    assert.instanceOf(error, TenantNotFoundException)
  })

  test('a suspended tenant is refused with 403 by the tenant middleware', async ({ assert }) => {
    const tenant = await givenTenant()
    const lifecycle = new TenantLifecycle()
    const middleware = new TenantMiddleware()
    const request = () => {
      const principal: AuthPrincipal = {
        id: tenant.owner.id,
        tenantId: tenant.id,
        role: 'owner',
        sessionId: tenant.owner.sessionId,
      }
      const ctx = {
        auth: { getUserOrFail: () => principal },
        response: { getStatus: () => 200 },
      } as unknown as HttpContext
      let served: number | undefined
      return middleware
        .handle(ctx, async () => {
          served = currentTenant().tenantId
        })
        .then(() => served)
    }

    assert.equal(await request(), tenant.id)

    await lifecycle.suspend(tenant.id)
    const error = await request().catch((e) => e)
    assert.instanceOf(error, TenantSuspendedException)
    assert.equal(error.status, 403)
    assert.equal(error.code, 'E_TENANT_SUSPENDED')

    await lifecycle.resume(tenant.id)
    assert.equal(await request(), tenant.id)
  })
})
