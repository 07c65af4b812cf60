import { test } from '@japa/runner'
import { withTenant } from '#tenancy/context'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { givenProduct, ledgerOf } from '#tests/support/catalog'
import { assertErrorShape } from '#tests/support/assertions'
import platform from '#tests/support/platform_db'
import { setTenantStatus } from '#tests/support/auth'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const PRODUCT_KEYS = [
  'id',
  'name',
  'sku',
  'price',
  'stock',
  'description',
  'is_active',
  'assigned_to',
  'created_at',
  'updated_at',
]

let skuCounter = 0
const newSku = () => `T-${process.pid}-${++skuCounter}`

function assertProduct(assert: any, product: any) {
  assert.sameMembers(Object.keys(product), PRODUCT_KEYS)
  assert.isTrue(Number.isInteger(product.id))
  assert.isString(product.name)
  assert.isString(product.sku)
  assert.match(product.price, /^\d+\.\d{2}$/)
  assert.isTrue(Number.isInteger(product.stock))
  assert.isString(product.description)
  assert.isBoolean(product.is_active)
  assert.isTrue(product.assigned_to === null || Number.isInteger(product.assigned_to))
  assert.match(product.created_at, ISO_UTC)
  assert.match(product.updated_at, ISO_UTC)
}

function assertFieldErrors(assert: any, body: any, fields: string[]) {
  assertErrorShape(assert, body, 'E_VALIDATION_ERROR')
  assert.sameMembers(
    body.errors.map((error: any) => error.field),
    fields
  )
}

test.group('Products: owner', (group) => {
  let tenant: GivenTenant
  let owner: GivenUser
  let staff: GivenUser
  group.setup(async () => {
    tenant = await givenTenant()
    owner = tenant.owner
    staff = await givenUser(tenant, 'staff')
  })

  test('creates a product with its initial stock movement', async ({ client, assert }) => {
    const sku = newSku()
    const response = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({
        name: 'Blue mug',
        sku,
        price: 12.5,
        stock: 7,
        description: 'Holds coffee',
        assigned_to: String(staff.id),
      })
    response.assertStatus(201)
    const product = response.body()
    assertProduct(assert, product)
    assert.containSubset(product, {
      name: 'Blue mug',
      sku,
      price: '12.50',
      stock: 7,
      description: 'Holds coffee',
      is_active: true,
      assigned_to: staff.id,
    })
    assert.deepEqual(await ledgerOf(tenant, product.id), { stock: 7, total: 7, movements: 1 })
  })

  test('defaults: empty description, active, unassigned; zero stock writes no movement', async ({
    client,
    assert,
  }) => {
    const response = await client
      .post('/api/products')
      .bearerToken(owner.token)
      .json({ name: 'Plain', sku: newSku(), price: '0', stock: '0' })
    response.assertStatus(201)
    assert.containSubset(response.body(), {
      price: '0.00',
      stock: 0,
      description: '',
      is_active: true,
      assigned_to: null,
    })
    assert.deepEqual(await ledgerOf(tenant, response.body().id), {
      stock: 0,
      total: 0,
      movements: 0,
    })
  })

  test('unknown fields are ignored', async ({ client, assert }) => {
    const response = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({ name: 'Extra', sku: newSku(), price: 1, stock: 1, id: 999999, tenant_id: 1, x: [] })
    response.assertStatus(201)
    assert.notEqual(response.body().id, 999999)
    assert.notProperty(response.body(), 'tenant_id')
  })

  test('a taken sku is a 409 on create and on update', async ({ client, assert }) => {
    const existing = await givenProduct(tenant)
    const create = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({ name: 'Dup', sku: existing.sku, price: 1, stock: 1 })
    create.assertStatus(409)
    assertErrorShape(assert, create.body(), 'E_CONFLICT')
    assert.equal(create.body().errors[0].field, 'sku')

    const other = await givenProduct(tenant)
    const patch = await client
      .patch(`/api/products/${other.id}/`)
      .bearerToken(owner.token)
      .json({ sku: existing.sku, stock: 99 })
    patch.assertStatus(409)
    assert.equal(patch.body().errors[0].field, 'sku')
    // The failed update changed nothing, not even the ledger.
    assert.deepEqual(await ledgerOf(tenant, other.id), { stock: 5, total: 5, movements: 1 })
  })

  test('the same sku in another tenant is fine', async ({ client }) => {
    const existing = await givenProduct(tenant)
    const elsewhere = await givenTenant()
    const response = await client
      .post('/api/products/')
      .bearerToken(elsewhere.owner.token)
      .json({ name: 'Same sku', sku: existing.sku, price: 1, stock: 1 })
    response.assertStatus(201)
  })

  test('422 with one entry per failing field', async ({ client, assert }) => {
    const empty = await client.post('/api/products/').bearerToken(owner.token).json({})
    empty.assertStatus(422)
    assertFieldErrors(assert, empty.body(), ['name', 'sku', 'price', 'stock'])

    const all = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({
        name: '',
        sku: 'x'.repeat(65),
        price: '1.234',
        stock: -1,
        description: 'd'.repeat(5001),
        is_active: 'maybe',
        assigned_to: 'abc',
      })
    all.assertStatus(422)
    assertFieldErrors(assert, all.body(), [
      'name',
      'sku',
      'price',
      'stock',
      'description',
      'is_active',
      'assigned_to',
    ])
  })

  const invalidValues: [string, unknown][] = [
    ['name', '   '],
    ['name', 'n'.repeat(201)],
    ['name', 42],
    ['name', 'nul\u0000byte'],
    ['sku', ''],
    ['sku', 'x'.repeat(65)],
    ['sku', null],
    ['price', -1],
    ['price', '-0.01'],
    ['price', '12345678901'],
    ['price', 0.125],
    ['price', 'abc'],
    ['price', null],
    ['price', true],
    ['stock', -1],
    ['stock', 1.5],
    ['stock', 2_147_483_648],
    ['stock', ''],
    ['stock', true],
    ['stock', [3]],
    ['stock', '1e3'],
    ['description', 'd'.repeat(5001)],
    ['description', 12],
    ['is_active', 'maybe'],
    ['assigned_to', 0],
    ['assigned_to', -3],
    ['assigned_to', '7a'],
    ['assigned_to', 1.5],
  ]
  for (const [field, value] of invalidValues) {
    test('422 for {field} = {value}')
      .with([{ field, value: JSON.stringify(value).slice(0, 20) }])
      .run(async ({ client, assert }) => {
        const body: Record<string, unknown> = { name: 'N', sku: newSku(), price: 1, stock: 1 }
        body[field] = value
        const response = await client.post('/api/products/').bearerToken(owner.token).json(body)
        response.assertStatus(422)
        assertFieldErrors(assert, response.body(), [field])
      })
  }

  test('accepts the edges of every field', async ({ client, assert }) => {
    const response = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({
        name: 'n'.repeat(200),
        sku: 's'.repeat(60) + String(++skuCounter).padStart(4, '0'),
        price: '9999999999.99',
        stock: 2_147_483_647,
        description: 'd'.repeat(5000),
        is_active: 'false',
      })
    response.assertStatus(201)
    assert.containSubset(response.body(), {
      price: '9999999999.99',
      stock: 2_147_483_647,
      is_active: false,
    })
  })

  test('assigned_to must be a staff user of this tenant', async ({ client, assert }) => {
    const customer = await givenUser(tenant, 'customer')
    const elsewhere = await givenTenant()
    const foreignStaff = await givenUser(elsewhere, 'staff')
    for (const userId of [owner.id, customer.id, foreignStaff.id, 99_999_999]) {
      const response = await client
        .post('/api/products/')
        .bearerToken(owner.token)
        .json({ name: 'A', sku: newSku(), price: 1, stock: 1, assigned_to: userId })
      response.assertStatus(422)
      assertFieldErrors(assert, response.body(), ['assigned_to'])
    }
    const product = await givenProduct(tenant)
    const patch = await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ assigned_to: foreignStaff.id })
    patch.assertStatus(422)
    assertFieldErrors(assert, patch.body(), ['assigned_to'])
  })

  test('an inactive staff member cannot be assigned: the same rule as orders', async ({
    client,
    assert,
  }) => {
    const inactive = await givenUser(tenant, 'staff', { isActive: false })
    const created = await client
      .post('/api/products/')
      .bearerToken(owner.token)
      .json({ name: 'A', sku: newSku(), price: 1, stock: 1, assigned_to: inactive.id })
    created.assertStatus(422)
    assertFieldErrors(assert, created.body(), ['assigned_to'])
    assert.equal(
      created.body().errors[0].message,
      'The assigned_to field must be an active staff member of this store'
    )

    const product = await givenProduct(tenant)
    const patch = await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ assigned_to: inactive.id })
    patch.assertStatus(422)
    assertFieldErrors(assert, patch.body(), ['assigned_to'])
  })

  test('lists every product, active or not, and filters by is_active', async ({
    client,
    assert,
  }) => {
    const active = await givenProduct(tenant)
    const inactive = await givenProduct(tenant, { is_active: false })

    const all = await client.get('/api/products/?per_page=100').bearerToken(owner.token)
    all.assertStatus(200)
    const ids = all.body().data.map((product: any) => product.id)
    assert.includeMembers(ids, [active.id, inactive.id])
    all.body().data.forEach((product: any) => assertProduct(assert, product))

    for (const value of ['false', '0']) {
      const response = await client
        .get(`/api/products/?per_page=100&is_active=${value}`)
        .bearerToken(owner.token)
      response.assertStatus(200)
      assert.isTrue(response.body().data.every((product: any) => !product.is_active))
      assert.include(
        response.body().data.map((product: any) => product.id),
        inactive.id
      )
    }
    for (const value of ['true', '1']) {
      const response = await client
        .get(`/api/products?per_page=100&is_active=${value}`)
        .bearerToken(owner.token)
      assert.isTrue(response.body().data.every((product: any) => product.is_active))
      assert.notInclude(
        response.body().data.map((product: any) => product.id),
        inactive.id
      )
    }
  })

  test('shows any product by id, inactive included', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { is_active: false })
    const response = await client.get(`/api/products/${product.id}/`).bearerToken(owner.token)
    response.assertStatus(200)
    assertProduct(assert, response.body())
    assert.equal(response.body().id, product.id)

    const missing = await client.get('/api/products/99999999/').bearerToken(owner.token)
    missing.assertStatus(404)
    assertErrorShape(assert, missing.body(), 'E_NOT_FOUND')

    const malformed = await client.get('/api/products/abc/').bearerToken(owner.token)
    malformed.assertStatus(404)
  })

  test('PUT replaces the product and records a manual_set movement', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { description: 'kept', stock: 5 })
    const sku = newSku()
    const response = await client
      .put(`/api/products/${product.id}/`)
      .bearerToken(owner.token)
      .json({ name: 'Renamed', sku, price: '3.5', stock: 2, assigned_to: staff.id })
    response.assertStatus(200)
    assertProduct(assert, response.body())
    assert.containSubset(response.body(), {
      id: product.id,
      name: 'Renamed',
      sku,
      price: '3.50',
      stock: 2,
      description: 'kept',
      is_active: true,
      assigned_to: staff.id,
    })
    assert.isAtLeast(Date.parse(response.body().updated_at), Date.parse(response.body().created_at))
    assert.deepEqual(await ledgerOf(tenant, product.id), { stock: 2, total: 2, movements: 2 })

    const partial = await client
      .put(`/api/products/${product.id}/`)
      .bearerToken(owner.token)
      .json({ name: 'Only a name' })
    partial.assertStatus(422)
    assertFieldErrors(assert, partial.body(), ['sku', 'price', 'stock'])
  })

  test('PATCH changes only the given fields', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { assigned_to: staff.id, description: 'd' })
    const response = await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ price: 99, is_active: false })
    response.assertStatus(200)
    assert.containSubset(response.body(), {
      name: product.name,
      sku: product.sku,
      price: '99.00',
      stock: product.stock,
      description: 'd',
      is_active: false,
      assigned_to: staff.id,
    })
    // No stock change, no movement.
    assert.deepEqual(await ledgerOf(tenant, product.id), { stock: 5, total: 5, movements: 1 })

    const unassign = await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ assigned_to: null, description: null })
    unassign.assertStatus(200)
    assert.containSubset(unassign.body(), { assigned_to: null, description: '' })

    const invalid = await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ name: '', stock: -5 })
    invalid.assertStatus(422)
    assertFieldErrors(assert, invalid.body(), ['name', 'stock'])
  })

  test('DELETE removes the product with its ledger; orders keep their snapshots', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 10 })
    await client
      .patch(`/api/products/${product.id}`)
      .bearerToken(owner.token)
      .json({ stock: 4 })
      .then((response) => response.assertStatus(200))
    const orderId = await withTenant(tenant.id, async (trx) => {
      const { rows } = await trx.rawQuery(
        `insert into orders (customer_id, total, status) values (?, 20, 'confirmed') returning id`,
        [owner.id]
      )
      await trx.rawQuery(
        `insert into order_items (order_id, product_id, sku, name, unit_price, qty, line_total)
         values (?, ?, ?, ?, 10, 2, 20)`,
        [rows[0].id, product.id, product.sku, product.name]
      )
      return rows[0].id as number
    })

    const response = await client.delete(`/api/products/${product.id}/`).bearerToken(owner.token)
    response.assertStatus(204)

    const again = await client.get(`/api/products/${product.id}/`).bearerToken(owner.token)
    again.assertStatus(404)
    assert.isUndefined(await ledgerOf(tenant, product.id))

    const items = await withTenant(tenant.id, (trx) =>
      trx.from('order_items').where('order_id', orderId).select('product_id', 'sku', 'name')
    )
    assert.deepEqual(items, [{ product_id: product.id, sku: product.sku, name: product.name }])

    const twice = await client.delete(`/api/products/${product.id}/`).bearerToken(owner.token)
    twice.assertStatus(404)
  })

  test('reads the stock ledger newest first, paginated', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { stock: 3 })
    for (const stock of [8, 1]) {
      await client
        .patch(`/api/products/${product.id}`)
        .bearerToken(owner.token)
        .json({ stock })
        .then((response) => response.assertStatus(200))
    }
    const response = await client
      .get(`/api/products/${product.id}/stock-movements/?per_page=2`)
      .bearerToken(owner.token)
    response.assertStatus(200)
    const { data, meta } = response.body()
    assert.deepEqual(meta, { total: 3, per_page: 2, current_page: 1, last_page: 2 })
    assert.deepEqual(
      data.map((movement: any) => [movement.delta, movement.kind]),
      [
        [-7, 'manual_set'],
        [5, 'manual_set'],
      ]
    )
    for (const movement of data) {
      assert.sameMembers(Object.keys(movement), [
        'id',
        'delta',
        'reason',
        'kind',
        'order_id',
        'created_at',
      ])
      assert.isNull(movement.order_id)
      assert.match(movement.created_at, ISO_UTC)
    }
    const last = await client
      .get(`/api/products/${product.id}/stock-movements?page=2&per_page=2`)
      .bearerToken(owner.token)
    assert.deepEqual(
      last.body().data.map((movement: any) => [movement.delta, movement.kind]),
      [[3, 'initial']]
    )

    const bad = await client
      .get(`/api/products/${product.id}/stock-movements?per_page=500`)
      .bearerToken(owner.token)
    bad.assertStatus(422)
    assertFieldErrors(assert, bad.body(), ['per_page'])
  })

  test('every product route needs a valid token', async ({ client, assert }) => {
    const product = await givenProduct(tenant)
    for (const [method, url] of [
      ['get', '/api/products/'],
      ['post', '/api/products/'],
      ['get', `/api/products/${product.id}/`],
      ['put', `/api/products/${product.id}/`],
      ['patch', `/api/products/${product.id}/`],
      ['delete', `/api/products/${product.id}/`],
      ['get', `/api/products/${product.id}/stock-movements/`],
    ] as const) {
      const response = await client[method](url).header('authorization', 'Bearer nope')
      response.assertStatus(401)
      assertErrorShape(assert, response.body())
    }
  })
})

test.group('Products: staff', (group) => {
  let tenant: GivenTenant
  let staff: GivenUser
  let otherStaff: GivenUser
  group.setup(async () => {
    tenant = await givenTenant()
    staff = await givenUser(tenant, 'staff')
    otherStaff = await givenUser(tenant, 'staff')
  })

  test('lists and shows every product, inactive included', async ({ client, assert }) => {
    const inactive = await givenProduct(tenant, { is_active: false })
    const list = await client.get('/api/products/?per_page=100').bearerToken(staff.token)
    list.assertStatus(200)
    assert.include(
      list.body().data.map((product: any) => product.id),
      inactive.id
    )
    const show = await client.get(`/api/products/${inactive.id}/`).bearerToken(staff.token)
    show.assertStatus(200)
  })

  test('cannot create or delete products', async ({ client, assert }) => {
    const create = await client
      .post('/api/products/')
      .bearerToken(staff.token)
      .json({ name: 'N', sku: newSku(), price: 1, stock: 1 })
    create.assertStatus(403)
    assertErrorShape(assert, create.body(), 'E_AUTHORIZATION_FAILURE')

    const product = await givenProduct(tenant, { assigned_to: staff.id })
    const remove = await client.delete(`/api/products/${product.id}/`).bearerToken(staff.token)
    remove.assertStatus(403)
    assertErrorShape(assert, remove.body(), 'E_AUTHORIZATION_FAILURE')
  })

  test('updates the products assigned to them (PUT and PATCH)', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { assigned_to: staff.id })
    const patch = await client
      .patch(`/api/products/${product.id}/`)
      .bearerToken(staff.token)
      .json({ stock: 9, is_active: false })
    patch.assertStatus(200)
    assert.containSubset(patch.body(), { stock: 9, is_active: false, assigned_to: staff.id })

    // A PUT of the product as read, assigned_to included, is fine.
    const put = await client
      .put(`/api/products/${product.id}/`)
      .bearerToken(staff.token)
      .json({ ...patch.body(), name: 'By staff' })
    put.assertStatus(200)
    assert.containSubset(put.body(), { name: 'By staff', assigned_to: staff.id })
    assert.deepEqual(await ledgerOf(tenant, product.id), { stock: 9, total: 9, movements: 2 })
  })

  test('cannot change assigned_to (403)', async ({ client, assert }) => {
    const product = await givenProduct(tenant, { assigned_to: staff.id })
    for (const assignedTo of [otherStaff.id, null]) {
      const response = await client
        .patch(`/api/products/${product.id}/`)
        .bearerToken(staff.token)
        .json({ assigned_to: assignedTo, name: 'Changed' })
      response.assertStatus(403)
      assertErrorShape(assert, response.body(), 'E_AUTHORIZATION_FAILURE')
    }
    const show = await client.get(`/api/products/${product.id}/`).bearerToken(staff.token)
    assert.containSubset(show.body(), { name: product.name, assigned_to: staff.id })
  })

  test('cannot update products not assigned to them (403)', async ({ client, assert }) => {
    const unassigned = await givenProduct(tenant)
    const ofOther = await givenProduct(tenant, { assigned_to: otherStaff.id })
    for (const product of [unassigned, ofOther]) {
      for (const method of ['put', 'patch'] as const) {
        const response = await client[method](`/api/products/${product.id}/`)
          .bearerToken(staff.token)
          .json({ name: 'N', sku: newSku(), price: 1, stock: 1 })
        response.assertStatus(403)
        assertErrorShape(assert, response.body(), 'E_AUTHORIZATION_FAILURE')
      }
    }
    // Invalid input to a product they may not edit is still a 403.
    const response = await client
      .patch(`/api/products/${unassigned.id}/`)
      .bearerToken(staff.token)
      .json({ stock: -1 })
    response.assertStatus(403)
  })

  test('reads the ledger of assigned products only', async ({ client }) => {
    const mine = await givenProduct(tenant, { assigned_to: staff.id })
    const notMine = await givenProduct(tenant, { assigned_to: otherStaff.id })
    const ok = await client
      .get(`/api/products/${mine.id}/stock-movements/`)
      .bearerToken(staff.token)
    ok.assertStatus(200)
    const denied = await client
      .get(`/api/products/${notMine.id}/stock-movements/`)
      .bearerToken(staff.token)
    denied.assertStatus(403)
  })
})

test.group('Products: customer', (group) => {
  let tenant: GivenTenant
  let customer: GivenUser
  group.setup(async () => {
    tenant = await givenTenant()
    customer = await givenUser(tenant, 'customer')
  })

  test('lists active products only, whatever is_active says', async ({ client, assert }) => {
    const active = await givenProduct(tenant)
    const inactive = await givenProduct(tenant, { is_active: false })
    for (const query of ['', '&is_active=false', '&is_active=0', '&is_active=true']) {
      const response = await client
        .get(`/api/products/?per_page=100${query}`)
        .bearerToken(customer.token)
      response.assertStatus(200)
      const ids = response.body().data.map((product: any) => product.id)
      assert.include(ids, active.id)
      assert.notInclude(ids, inactive.id)
      assert.isTrue(response.body().data.every((product: any) => product.is_active))
      assert.equal(response.body().meta.total, ids.length)
    }
  })

  test('shows an active product; an inactive one is 404', async ({ client, assert }) => {
    const active = await givenProduct(tenant)
    const inactive = await givenProduct(tenant, { is_active: false })
    const show = await client.get(`/api/products/${active.id}`).bearerToken(customer.token)
    show.assertStatus(200)
    const hidden = await client.get(`/api/products/${inactive.id}`).bearerToken(customer.token)
    hidden.assertStatus(404)
    assertErrorShape(assert, hidden.body(), 'E_NOT_FOUND')
  })

  test('cannot write: 403 on active products, 404 on inactive ones', async ({ client, assert }) => {
    const create = await client
      .post('/api/products/')
      .bearerToken(customer.token)
      .json({ name: 'N', sku: newSku(), price: 1, stock: 1 })
    create.assertStatus(403)

    const active = await givenProduct(tenant)
    const inactive = await givenProduct(tenant, { is_active: false })
    for (const [product, status] of [
      [active, 403],
      [inactive, 404],
    ] as const) {
      for (const method of ['put', 'patch', 'delete'] as const) {
        const response = await client[method](`/api/products/${product.id}/`)
          .bearerToken(customer.token)
          .json({ name: 'N', sku: newSku(), price: 1, stock: 1 })
        response.assertStatus(status)
        assertErrorShape(assert, response.body())
      }
      const ledger = await client
        .get(`/api/products/${product.id}/stock-movements/`)
        .bearerToken(customer.token)
      ledger.assertStatus(status)
    }
    assert.deepEqual(await ledgerOf(tenant, active.id), { stock: 5, total: 5, movements: 1 })
  })
})

test.group('Products: tenant isolation', () => {
  test("another tenant's product is 404 for every method", async ({ client, assert }) => {
    const tenantA = await givenTenant()
    const tenantB = await givenTenant()
    const staffB = await givenUser(tenantB, 'staff')
    const customerB = await givenUser(tenantB, 'customer')
    const product = await givenProduct(tenantA, { assigned_to: null })

    for (const user of [tenantB.owner, staffB, customerB]) {
      for (const [method, url] of [
        ['get', `/api/products/${product.id}/`],
        ['put', `/api/products/${product.id}/`],
        ['patch', `/api/products/${product.id}/`],
        ['delete', `/api/products/${product.id}/`],
        ['get', `/api/products/${product.id}/stock-movements/`],
      ] as const) {
        const request = client.request(url, method.toUpperCase()).bearerToken(user.token)
        if (method !== 'get') request.json({ name: 'Hijack', sku: newSku(), price: 1, stock: 0 })
        const response = await request
        response.assertStatus(404)
        assertErrorShape(assert, response.body(), 'E_NOT_FOUND')
      }
    }

    const list = await client
      .get(`/api/products/?search=${encodeURIComponent(product.sku)}`)
      .bearerToken(tenantB.owner.token)
    assert.deepEqual(list.body().data, [])

    const untouched = await client
      .get(`/api/products/${product.id}/`)
      .bearerToken(tenantA.owner.token)
    assert.containSubset(untouched.body(), { name: product.name, stock: 5 })
  })
})

test.group('Products: listing', (group) => {
  let tenant: GivenTenant
  const names = [
    '100% cotton',
    '100 cotton',
    'a_b towel',
    'axb towel',
    "it's a mug",
    'its a mug',
    'back\\slash',
    'backslash',
    'double "quoted"',
  ]
  const created: Record<string, number> = {}

  group.setup(async () => {
    tenant = await givenTenant()
    let index = 0
    for (const name of names) {
      index++
      const product = await givenProduct(tenant, {
        name,
        sku: `LIST-${index}`,
        price: String(index % 3),
        stock: 10 - index,
      })
      created[name] = product.id
    }
  })

  async function search(client: any, term: string) {
    const response = await client
      .get(`/api/products/?per_page=100&search=${encodeURIComponent(term)}`)
      .bearerToken(tenant.owner.token)
    response.assertStatus(200)
    return response
      .body()
      .data.map((product: any) => product.name)
      .sort()
  }

  test('search treats % _ \\ and quotes as literal characters', async ({ client, assert }) => {
    assert.deepEqual(await search(client, '%'), ['100% cotton'])
    assert.deepEqual(await search(client, '0% c'), ['100% cotton'])
    assert.deepEqual(await search(client, '_'), ['a_b towel'])
    assert.deepEqual(await search(client, "'"), ["it's a mug"])
    assert.deepEqual(await search(client, '\\'), ['back\\slash'])
    assert.deepEqual(await search(client, '"quoted"'), ['double "quoted"'])
    assert.deepEqual(await search(client, "'; drop table products; --"), [])
  })

  test('search is case-insensitive over name and sku', async ({ client, assert }) => {
    assert.deepEqual(await search(client, 'COTTON'), ['100 cotton', '100% cotton'])
    assert.deepEqual(await search(client, 'list-3'), ['a_b towel'])
    assert.deepEqual(await search(client, 'nothing like it'), [])
    assert.lengthOf(await search(client, ''), names.length)
  })

  test('ordering by each column, both ways, with id as tiebreaker', async ({ client, assert }) => {
    const rows = await withTenant(tenant.id, (trx) =>
      trx.from('products').select('id', 'name', 'price', 'stock', 'created_at')
    )
    const compare = (column: string) => (a: any, b: any) => {
      const left = column === 'price' ? Number(a.price) : a[column]
      const right = column === 'price' ? Number(b.price) : b[column]
      if (left < right) return -1
      if (left > right) return 1
      return a.id - b.id
    }
    for (const column of ['name', 'price', 'created_at', 'stock']) {
      const expected = [...rows].sort(compare(column)).map((row) => row.id)
      const ascending = await client
        .get(`/api/products/?per_page=100&ordering=${column}`)
        .bearerToken(tenant.owner.token)
      ascending.assertStatus(200)
      assert.deepEqual(
        ascending.body().data.map((product: any) => product.id),
        expected,
        column
      )
      const descending = await client
        .get(`/api/products/?per_page=100&ordering=-${column}`)
        .bearerToken(tenant.owner.token)
      assert.deepEqual(
        descending.body().data.map((product: any) => product.id),
        [...expected].reverse(),
        `-${column}`
      )
    }
    const byDefault = await client.get('/api/products/').bearerToken(tenant.owner.token)
    assert.deepEqual(
      byDefault.body().data.map((product: any) => product.id),
      rows.map((row) => row.id).sort((a, b) => a - b)
    )
  })

  test('pagination meta, and a page past the end', async ({ client, assert }) => {
    const first = await client
      .get('/api/products/?per_page=4&ordering=name')
      .bearerToken(tenant.owner.token)
    assert.deepEqual(first.body().meta, {
      total: names.length,
      per_page: 4,
      current_page: 1,
      last_page: 3,
    })
    assert.lengthOf(first.body().data, 4)

    const pages = []
    for (const page of [1, 2, 3]) {
      const response = await client
        .get(`/api/products/?per_page=4&ordering=name&page=${page}`)
        .bearerToken(tenant.owner.token)
      pages.push(...response.body().data.map((product: any) => product.id))
    }
    assert.sameMembers(pages, Object.values(created))

    const past = await client
      .get('/api/products/?per_page=4&page=9')
      .bearerToken(tenant.owner.token)
    past.assertStatus(200)
    assert.deepEqual(past.body(), {
      data: [],
      meta: { total: names.length, per_page: 4, current_page: 9, last_page: 3 },
    })

    const defaults = await client.get('/api/products').bearerToken(tenant.owner.token)
    assert.containSubset(defaults.body().meta, { per_page: 20, current_page: 1 })
  })

  test('invalid query values are 422 per field', async ({ client, assert }) => {
    for (const [query, fields] of [
      ['ordering=id', ['ordering']],
      ['ordering=-', ['ordering']],
      ['ordering=name;drop', ['ordering']],
      ['is_active=maybe', ['is_active']],
      ['page=0', ['page']],
      ['page=abc', ['page']],
      ['per_page=101', ['per_page']],
      ['per_page=1.5', ['per_page']],
      [`search=${'s'.repeat(201)}`, ['search']],
      ['search=%00', ['search']],
      ['search[a]=1', ['search']],
      ['page=1&page=2', ['page']],
      ['ordering=sku&is_active=x&page=-1', ['ordering', 'is_active', 'page']],
    ] as const) {
      const response = await client.get(`/api/products/?${query}`).bearerToken(tenant.owner.token)
      response.assertStatus(422)
      assertFieldErrors(assert, response.body(), [...fields])
    }
  })
})

/**
 * The list route opens its own tenant transaction, in one round trip
 * (entry, admission and page in one message: ProductService.listForRequest),
 * instead of going through the tenant middleware. It must refuse and
 * filter exactly as the middleware's transaction does.
 */
test.group('Products: the list admits its caller itself', (group) => {
  let tenant: GivenTenant
  let inactiveId: number
  group.setup(async () => {
    tenant = await givenTenant()
    await givenProduct(tenant, { is_active: true })
    const inactive = await givenProduct(tenant, { is_active: false })
    inactiveId = inactive.id
  })

  const list = (client: any, user: GivenUser, query = '') =>
    client.get(`/api/products/${query}`).bearerToken(user.token)
  const revokeSession = (user: GivenUser) =>
    platform
      .from('public.auth_sessions')
      .where('id', user.sessionId)
      .update({ revoked_at: platform.raw('now()') })

  test('a revoked login session, a deactivated or a deleted user: 401', async ({
    client,
    assert,
  }) => {
    const revoked = await givenUser(tenant, 'staff')
    await revokeSession(revoked)
    const inactive = await givenUser(tenant, 'staff')
    await platform.from('public.users').where('id', inactive.id).update({ is_active: false })
    const deleted = await givenUser(tenant, 'staff')
    await platform.from('public.users').where('id', deleted.id).delete()
    for (const user of [revoked, inactive, deleted]) {
      for (const query of ['', '?search=Product', '?page=9']) {
        const response = await list(client, user, query)
        response.assertStatus(401)
        assertErrorShape(assert, response.body(), 'E_UNAUTHORIZED_ACCESS')
      }
    }
  })

  test('a suspended tenant: 403 E_TENANT_SUSPENDED', async ({ client, assert }) => {
    const suspended = await givenTenant()
    await setTenantStatus(suspended.id, 'suspended')
    const response = await list(client, suspended.owner)
    response.assertStatus(403)
    assert.equal(response.body().errors[0].code, 'E_TENANT_SUSPENDED')
    await setTenantStatus(suspended.id, 'active')
    await list(client, suspended.owner).then((answer: any) => answer.assertStatus(200))
  })

  test('a tenant that no longer exists: 401', async ({ client, assert }) => {
    const gone = await givenTenant()
    await platform.rawQuery(`drop schema "${gone.schemaName}" cascade`)
    await platform.rawQuery('delete from public.tenants where id = ?', [gone.id])
    const response = await list(client, gone.owner)
    response.assertStatus(401)
    assertErrorShape(assert, response.body(), 'E_UNAUTHORIZED_ACCESS')
  })

  test('admission comes before validation: 401 or 403, not 422', async ({ client, assert }) => {
    const revoked = await givenUser(tenant, 'staff')
    await revokeSession(revoked)
    await list(client, revoked, '?per_page=0').then((answer: any) => answer.assertStatus(401))
    const suspended = await givenTenant()
    await setTenantStatus(suspended.id, 'suspended')
    const refused = await list(client, suspended.owner, '?ordering=nope')
    refused.assertStatus(403)
    assert.equal(refused.body().errors[0].code, 'E_TENANT_SUSPENDED')
    await list(client, tenant.owner, '?per_page=0').then((answer: any) => answer.assertStatus(422))
  })

  test('visibility follows the role the database holds now, not the token', async ({
    client,
    assert,
  }) => {
    const ids = (response: any) => response.body().data.map((product: any) => product.id)
    // A staff member demoted to customer after the token was issued
    const demoted = await givenUser(tenant, 'staff')
    await platform.from('public.users').where('id', demoted.id).update({ role: 'customer' })
    for (const query of ['', '?is_active=false', '?ordering=-name']) {
      const response = await list(client, demoted, query)
      response.assertStatus(200)
      assert.notInclude(ids(response), inactiveId, query)
      assert.equal(response.body().meta.total, 1, query)
    }
    // A customer promoted to staff
    const promoted = await givenUser(tenant, 'customer')
    await platform.from('public.users').where('id', promoted.id).update({ role: 'staff' })
    const all = await list(client, promoted, '?is_active=false')
    all.assertStatus(200)
    assert.deepEqual(ids(all), [inactiveId])
    assert.equal(all.body().meta.total, 1)
  })
})
