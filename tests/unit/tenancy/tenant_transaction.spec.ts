import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { currentTenant, inTenantOneRoundTrip, tenantQuery, withTenant } from '#tenancy/context'
import { MissingTenantContextException, TenantNotFoundException } from '#exceptions/tenancy'
import { beginWithEntry } from '#tenancy/tenant_transaction'
import { runtimePool } from '#tenancy/pool_slices'
import { givenTenant } from '#tests/support/fixtures'
import platform from '#tests/support/platform_db'

async function defaultSearchPath() {
  const { rows } = await db.rawQuery(`select current_setting('search_path') as path`)
  return rows[0].path
}

test.group('Tenant transaction', () => {
  test('enters the tenant schema in the same round trip as BEGIN', async ({ assert }) => {
    const tenant = await givenTenant()
    const statements: string[] = []
    const listener = (query: { sql: string }) => statements.push(query.sql)
    // the pool is idle: the transaction runs on the tenant's home slice
    const home = db.connection(runtimePool.homeConnection(tenant.id))
    home.getWriteClient().on('query', listener)
    try {
      await withTenant(tenant.id, async (trx) => {
        const { rows } = await trx.rawQuery(`select current_setting('search_path') as path`)
        assert.equal(rows[0].path, `"${tenant.schemaName}", public`)
        assert.equal(currentTenant().tenantId, tenant.id)
      })
    } finally {
      home.getWriteClient().off('query', listener)
    }
    assert.match(statements[0], new RegExp(`^begin;\\s+select tenancy\\.enter\\(${tenant.id}\\)`))
    assert.include(
      statements[0],
      `set_config('search_path', '"${tenant.schemaName}", public', true)`
    )
    assert.deepEqual(statements.slice(1), [
      `select current_setting('search_path') as path`,
      'COMMIT;',
    ])
    assert.equal(await defaultSearchPath(), '"$user", public')
  })

  test('an unknown tenant fails closed', async ({ assert }) => {
    await assert.rejects(
      () => withTenant(987654321, async () => 'never'),
      TenantNotFoundException as any
    )
  })

  test('a throwing handler commits nothing and leaves the default search_path', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    await assert.rejects(() =>
      withTenant(tenant.id, async () => {
        await currentTenant().trx.rawQuery(
          `insert into products (name, sku, price, stock) values ('Ghost', 'GHOST', 1, 0)`
        )
        throw new Error('boom')
      })
    )
    const { rows } = await platform.rawQuery(
      `select count(*) as n from "${tenant.schemaName}".products`
    )
    assert.equal(rows[0].n, 0)
    assert.equal(await defaultSearchPath(), '"$user", public')
  })

  test('tenant queries outside a tenant scope throw', async ({ assert }) => {
    assert.throws(() => tenantQuery('products'), MissingTenantContextException as any)
  })

  test('a failing entry disposes of its connection instead of pooling an aborted transaction', async ({
    assert,
  }) => {
    await assert.rejects(() => beginWithEntry(['select * from no_such_table']))
    for (let i = 0; i < 20; i++) {
      const { rows } = await db.rawQuery('select 1 as ok')
      assert.equal(rows[0].ok, 1)
    }
  })

  test('one round trip: entry, statements and COMMIT in one message, committed', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const [inserted, path] = await inTenantOneRoundTrip(tenant.id, [
      `insert into products (name, sku, price, stock) values ('One trip', 'ONE-TRIP', 1, 3)
       returning stock`,
      `select current_setting('search_path') as path`,
    ])
    assert.deepEqual(inserted, [{ stock: 3 }])
    assert.equal(path[0].path, `"${tenant.schemaName}", public`)
    const { rows } = await platform.rawQuery(
      `select count(*)::int as n from "${tenant.schemaName}".products where sku = 'ONE-TRIP'`
    )
    assert.equal(rows[0].n, 1)
    assert.equal(await defaultSearchPath(), '"$user", public')
  })

  test('one round trip: a failing statement keeps nothing and pools no aborted transaction', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    await assert.rejects(() =>
      inTenantOneRoundTrip(tenant.id, [
        `insert into products (name, sku, price, stock) values ('Ghost', 'GHOST-1', 1, 0)`,
        'select * from no_such_table',
      ])
    )
    const { rows } = await platform.rawQuery(
      `select count(*)::int as n from "${tenant.schemaName}".products where sku = 'GHOST-1'`
    )
    assert.equal(rows[0].n, 0)
    for (let i = 0; i < 20; i++) {
      const answer = await db.rawQuery('select 1 as ok')
      assert.equal(answer.rows[0].ok, 1)
    }
    await assert.rejects(
      () => inTenantOneRoundTrip(987654321, ['select 1']),
      TenantNotFoundException as any
    )
  })
})
