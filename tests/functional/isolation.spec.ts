import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import { givenProduct, givenProductWithId } from '#tests/support/catalog'

/**
 * Isolation through the whole request path (JWT → tenant transaction →
 * query), under concurrency: many more requests in flight than the pool
 * has connections (DB_POOL_MAX=8 in tests), interleaved across tenants.
 */
const TENANTS = 12
const REQUESTS_PER_TENANT = 10

interface TenantFixture {
  tenant: GivenTenant
  productIds: number[]
  prefix: string
}

async function givenTenants(): Promise<TenantFixture[]> {
  const fixtures: TenantFixture[] = []
  for (let i = 0; i < TENANTS; i++) {
    const tenant = await givenTenant()
    const prefix = `ISO${tenant.id}-`
    const productIds: number[] = []
    for (let j = 0; j < 3; j++) {
      const product = await givenProduct(tenant, { sku: `${prefix}${j}`, name: `${prefix}${j}` })
      productIds.push(product.id)
    }
    fixtures.push({ tenant, productIds, prefix })
  }
  return fixtures
}

test.group('Tenant isolation over HTTP', (group) => {
  let fixtures: TenantFixture[]
  group.setup(async () => {
    fixtures = await givenTenants()
  })

  test('concurrent interleaved reads each see only their own tenant', async ({
    client,
    assert,
  }) => {
    const requests = []
    for (let round = 0; round < REQUESTS_PER_TENANT; round++) {
      for (const fixture of fixtures) {
        requests.push(
          client
            .get('/api/products/?per_page=100')
            .bearerToken(fixture.tenant.owner.token)
            .then((response) => ({ fixture, response }))
        )
      }
    }
    const results = await Promise.all(requests)
    assert.lengthOf(results, TENANTS * REQUESTS_PER_TENANT)
    for (const { fixture, response } of results) {
      response.assertStatus(200)
      const skus: string[] = response.body().data.map((product: any) => product.sku)
      assert.lengthOf(skus, 3)
      for (const sku of skus) assert.isTrue(sku.startsWith(fixture.prefix), `${sku} leaked`)
    }
  })

  test('concurrent interleaved writes land in their own schema only', async ({
    client,
    assert,
  }) => {
    const writes = fixtures.flatMap((fixture) =>
      Array.from({ length: 5 }, (_, i) =>
        client
          .post('/api/products/')
          .bearerToken(fixture.tenant.owner.token)
          .json({ name: `w${i}`, sku: `${fixture.prefix}w${i}`, price: 1, stock: 1 })
      )
    )
    for (const response of await Promise.all(writes)) response.assertStatus(201)

    for (const fixture of fixtures) {
      const { rows } = await db.rawQuery(
        `select sku from "${fixture.tenant.schemaName}".products order by sku`
      )
      assert.lengthOf(rows, 8)
      for (const row of rows) assert.isTrue(row.sku.startsWith(fixture.prefix))
    }
  })

  test("another tenant's product is 404 by id, for every method", async ({ client, assert }) => {
    // Ids are per schema, so every tenant has a product 1: use an id that
    // exists in the other tenant only.
    const [mine, theirs] = fixtures
    const { id: foreignId } = await givenProductWithId(theirs.tenant, 900_000 + theirs.tenant.id)
    const token = mine.tenant.owner.token
    const responses = await Promise.all([
      client.get(`/api/products/${foreignId}/`).bearerToken(token),
      client.patch(`/api/products/${foreignId}/`).bearerToken(token).json({ stock: 0 }),
      client
        .put(`/api/products/${foreignId}/`)
        .bearerToken(token)
        .json({ name: 'x', sku: 'x', price: 1, stock: 0 }),
      client.delete(`/api/products/${foreignId}/`).bearerToken(token),
      client.get(`/api/products/${foreignId}/stock-movements/`).bearerToken(token),
    ])
    for (const response of responses) response.assertStatus(404)

    const { rows } = await db.rawQuery(
      `select stock from "${theirs.tenant.schemaName}".products where id = ?`,
      [foreignId]
    )
    assert.equal(rows[0].stock, 5)
  })

  test('pooled connections come back with the default search_path', async ({ assert }) => {
    const paths = await Promise.all(
      Array.from({ length: 16 }, () => db.rawQuery(`select current_setting('search_path') as path`))
    )
    for (const { rows } of paths) assert.equal(rows[0].path, '"$user", public')
  })
})
