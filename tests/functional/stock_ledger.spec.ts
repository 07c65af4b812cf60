import { test } from '@japa/runner'
import { withTenant } from '#tenancy/context'
import { moveStock } from '#services/stock_ledger'
import { givenTenant, givenUser, type GivenTenant } from '#tests/support/fixtures'
import { givenProduct, ledgerOf } from '#tests/support/catalog'

/**
 * The product's movements in the order they were written.
 */
async function movementsOf(tenant: { id: number }, productId: number) {
  return withTenant(tenant.id, (trx) =>
    trx
      .from('stock_movements')
      .where('product_id', productId)
      .orderBy('id')
      .select('delta', 'kind', 'adjustment_id')
  )
}

/**
 * The stock after each movement, replayed from zero.
 */
function replay(movements: { delta: number }[]) {
  let stock = 0
  return movements.map((movement) => (stock += movement.delta))
}

test.group('Stock ledger', (group) => {
  let tenant: GivenTenant
  group.setup(async () => {
    tenant = await givenTenant()
  })

  test('the movements sum to the stock after every create and update', async ({
    client,
    assert,
  }) => {
    const staff = await givenUser(tenant, 'staff')
    const created = await client
      .post('/api/products/')
      .bearerToken(tenant.owner.token)
      .json({ name: 'Ledger', sku: 'LEDGER-1', price: 1, stock: 12, assigned_to: staff.id })
    created.assertStatus(201)
    const id = created.body().id
    assert.deepEqual(await ledgerOf(tenant, id), { stock: 12, total: 12, movements: 1 })

    const steps: [string, string, Record<string, unknown>, number][] = [
      ['owner', 'patch', { stock: 20 }, 20],
      ['owner', 'patch', { stock: 20 }, 20],
      ['owner', 'patch', { name: 'No stock change' }, 20],
      ['staff', 'patch', { stock: 0 }, 0],
      ['owner', 'put', { name: 'L', sku: 'LEDGER-1', price: 2, stock: 7 }, 7],
      ['staff', 'put', { name: 'L', sku: 'LEDGER-1', price: 2, stock: '2147483647' }, 2147483647],
      ['owner', 'patch', { stock: 1 }, 1],
    ]
    for (const [who, method, body, expected] of steps) {
      const token = who === 'owner' ? tenant.owner.token : staff.token
      const response = await client[method as 'patch'](`/api/products/${id}/`)
        .bearerToken(token)
        .json(body)
      response.assertStatus(200)
      assert.equal(response.body().stock, expected)
      const ledger = await ledgerOf(tenant, id)
      assert.equal(ledger!.stock, expected)
      assert.equal(ledger!.total, expected)
    }

    const movements = await movementsOf(tenant, id)
    const kinds = movements.map((movement) => movement.kind)
    assert.deepEqual(kinds, ['initial', ...Array(5).fill('manual_set')])

    // The ledger as the API pages it sums to the stock as well.
    const pages = []
    for (let page = 1; page <= 3; page++) {
      const response = await client
        .get(`/api/products/${id}/stock-movements/?per_page=2&page=${page}`)
        .bearerToken(staff.token)
      pages.push(...response.body().data)
    }
    assert.lengthOf(pages, 6)
    assert.equal(
      pages.reduce((sum, movement) => sum + movement.delta, 0),
      1
    )
  })

  test('a failed update leaves stock and ledger unchanged', async ({ client, assert }) => {
    const taken = await givenProduct(tenant)
    const product = await givenProduct(tenant, { stock: 4 })
    const response = await client
      .put(`/api/products/${product.id}/`)
      .bearerToken(tenant.owner.token)
      .json({ name: 'X', sku: taken.sku, price: 1, stock: 40 })
    response.assertStatus(409)
    assert.deepEqual(await ledgerOf(tenant, product.id), { stock: 4, total: 4, movements: 1 })
  })

  test('concurrent PATCHes of stock each land on the value they asked for', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 10 })
    const targets = [3, 17, 0, 42, 8, 25]

    const responses = await Promise.all(
      targets.map((stock) =>
        client.patch(`/api/products/${product.id}/`).bearerToken(tenant.owner.token).json({ stock })
      )
    )
    responses.forEach((response) => response.assertStatus(200))

    const ledger = (await ledgerOf(tenant, product.id))!
    assert.equal(ledger.total, ledger.stock)
    assert.include(targets, ledger.stock)

    // Each manual_set movement was computed from the stock the previous one
    // left: replayed in order, every step lands on a requested value.
    const movements = await movementsOf(tenant, product.id)
    const stocks = replay(movements)
    assert.equal(stocks[0], 10)
    for (const [index, movement] of movements.entries()) {
      if (movement.kind === 'manual_set') assert.include(targets, stocks[index])
    }
    assert.lengthOf(movements, 1 + targets.length)
  })

  test('concurrent PATCHes and adjustments keep the sum equal to the stock', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 50 })
    const adjustments = [5, -3, 7, -1].map((delta) =>
      withTenant(tenant.id, () =>
        moveStock({ productId: product.id, delta, kind: 'adjustment', reason: 'test' })
      )
    )
    const patches = [30, 60, 45].map((stock) =>
      client.patch(`/api/products/${product.id}/`).bearerToken(tenant.owner.token).json({ stock })
    )
    const [, responses] = await Promise.all([Promise.all(adjustments), Promise.all(patches)])
    responses.forEach((response) => response.assertStatus(200))

    const ledger = (await ledgerOf(tenant, product.id))!
    assert.equal(ledger.total, ledger.stock)
    assert.isAtLeast(ledger.stock, 0)
    assert.equal(ledger.movements, 1 + 4 + 3)
  })
})
