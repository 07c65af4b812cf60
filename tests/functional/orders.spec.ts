import type { ProductRow } from '#models/product'
import { test } from '@japa/runner'
import { bodyOf, expectStatus, statusOf } from '#tests/support/http'
import { givenProduct, givenProductWithId } from '#tests/support/catalog'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { ledgerSum, movementsOf, outboxCount, resetQueues, stockOf } from '#tests/support/orders'
import { confirmOrder } from '#jobs/confirm_order'
import { restoreStock } from '#jobs/restore_stock'
import { MAX_STOCK } from '#services/stock_ledger'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

interface World {
  tenant: GivenTenant
  staff: GivenUser
  otherStaff: GivenUser
  customer: GivenUser
  otherCustomer: GivenUser
  product: ProductRow
  cheap: ProductRow
  inactive: ProductRow
  other: GivenTenant
  otherProduct: { id: number }
}

async function givenWorld(): Promise<World> {
  const tenant = await givenTenant()
  const other = await givenTenant()
  return {
    tenant,
    other,
    staff: await givenUser(tenant, 'staff'),
    otherStaff: await givenUser(tenant, 'staff'),
    customer: await givenUser(tenant, 'customer'),
    otherCustomer: await givenUser(tenant, 'customer'),
    product: await givenProduct(tenant, { stock: 10, price: '19.99' }),
    cheap: await givenProduct(tenant, { stock: 1000, price: '0.10' }),
    inactive: await givenProduct(tenant, { stock: 10, is_active: false }),
    otherProduct: await givenProductWithId(other, 777_001),
  }
}

function errorFields(body: any): string[] {
  return body.errors.map((error: any) => error.field)
}

async function orderRow(tenantId: number, orderId: number) {
  const { rows } = await db.rawQuery(
    `select * from ${quoteIdent(tenantSchema(tenantId))}.orders where id = ?`,
    [orderId]
  )
  return rows[0]
}

async function orderCount(tenantId: number, customerId: number) {
  const { rows } = await db.rawQuery(
    `select count(*)::int as n from ${quoteIdent(tenantSchema(tenantId))}.orders where customer_id = ?`,
    [customerId]
  )
  return rows[0].n
}

test.group('Orders: placing', (group) => {
  let w: World
  group.setup(async () => {
    await resetQueues()
    w = await givenWorld()
  })

  test('a customer places an order: 202, pending, snapshots and a decimal total', async ({
    client,
    assert,
  }) => {
    const response = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .json({
        items: [
          { product_id: w.product.id, qty: 3 },
          { product_id: String(w.cheap.id), qty: 2 },
          { product_id: w.cheap.id, qty: 1 },
        ],
        note: 'leave at the door',
      })
    response.assertStatus(202)
    const order = response.body()
    assert.equal(order.status, 'pending')
    assert.equal(order.customer_id, w.customer.id)
    assert.isNull(order.assigned_to)
    assert.isNull(order.confirmed_at)
    assert.isNull(order.rejection_reason)
    assert.equal(order.total, '60.27')
    assert.deepEqual(order.items, [
      {
        product_id: w.product.id,
        sku: w.product.sku,
        name: w.product.name,
        unit_price: '19.99',
        qty: 3,
        line_total: '59.97',
      },
      {
        product_id: w.cheap.id,
        sku: w.cheap.sku,
        name: w.cheap.name,
        unit_price: '0.10',
        qty: 3,
        line_total: '0.30',
      },
    ])
    assert.match(order.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.isAbove(await outboxCount(w.tenant.id), 0)
    assert.lengthOf(await movementsOf(w.tenant.id, { orderId: order.id }), 0)
    assert.equal(await stockOf(w.tenant.id, w.product.id), 10)
  })

  test('owner and staff may not place orders (403); no token is 401', async ({ client }) => {
    const body = { items: [{ product_id: w.product.id, qty: 1 }] }
    await expectStatus(
      client.post('/api/orders/').bearerToken(w.tenant.owner.token).json(body),
      403
    )
    await expectStatus(client.post('/api/orders/').bearerToken(w.staff.token).json(body), 403)
    await expectStatus(client.post('/api/orders/').json(body), 401)
  })

  test('invalid bodies answer 422 naming the field', async ({ client, assert }) => {
    const cases: [unknown, string][] = [
      [{ items: [] }, 'items'],
      [{}, 'items'],
      [{ items: 'x' }, 'items'],
      [{ items: [{ product_id: w.product.id, qty: 0 }] }, 'items.0.qty'],
      [{ items: [{ product_id: w.product.id, qty: 1001 }] }, 'items.0.qty'],
      [{ items: [{ product_id: w.product.id, qty: 1.5 }] }, 'items.0.qty'],
      [{ items: [{ product_id: w.product.id, qty: true }] }, 'items.0.qty'],
      [{ items: [{ product_id: w.product.id, qty: '1e1' }] }, 'items.0.qty'],
      [{ items: [{ product_id: w.product.id }] }, 'items.0.qty'],
      [{ items: [{ product_id: 'abc', qty: 1 }] }, 'items.0.product_id'],
      [{ items: [{ product_id: -1, qty: 1 }] }, 'items.0.product_id'],
      [{ items: [{ product_id: '99999999999999999999', qty: 1 }] }, 'items.0.product_id'],
      [{ items: [{ product_id: 999999, qty: 1 }] }, 'items.0.product_id'],
      [{ items: [{ product_id: w.otherProduct.id, qty: 1 }] }, 'items.0.product_id'],
      [
        {
          items: [
            { product_id: w.product.id, qty: 1 },
            { product_id: w.inactive.id, qty: 1 },
          ],
        },
        'items.1.product_id',
      ],
      [
        {
          items: [
            { product_id: w.product.id, qty: 600 },
            { product_id: w.product.id, qty: 600 },
          ],
        },
        'items.1.qty',
      ],
      [
        { items: Array.from({ length: 101 }, () => ({ product_id: w.product.id, qty: 1 })) },
        'items',
      ],
      [{ items: [{ product_id: w.product.id, qty: 1 }], note: 'x'.repeat(2001) }, 'note'],
      [{ items: [{ product_id: w.product.id, qty: 1 }], note: 'a\u0000b' }, 'note'],
    ]
    for (const [body, field] of cases) {
      const response = await client.post('/api/orders/').bearerToken(w.customer.token).json(body)
      assert.equal(response.status(), 422, JSON.stringify(body).slice(0, 200))
      assert.include(errorFields(response.body()), field, JSON.stringify(body).slice(0, 200))
      assert.equal(response.body().errors[0].code, 'E_VALIDATION_ERROR')
    }
  })

  test('an order total beyond the largest amount is 422, not a database error', async ({
    client,
    assert,
  }) => {
    const precious = await givenProduct(w.tenant, { price: '9999999999.99', stock: 100 })
    const response = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .json({ items: [{ product_id: precious.id, qty: 1000 }] })
    response.assertStatus(422)
    assert.deepEqual(errorFields(response.body()), ['items'])

    const fits = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .json({ items: [{ product_id: precious.id, qty: 99 }] })
    fits.assertStatus(202)
    assert.equal(fits.body().total, '989999999999.01')
  })

  test('the same Idempotency-Key answers the first order again; another body is 409', async ({
    client,
    assert,
  }) => {
    const customer = await givenUser(w.tenant, 'customer')
    const body = { items: [{ product_id: w.product.id, qty: 2 }] }
    const first = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'order-abc-1')
      .json(body)
    first.assertStatus(202)

    const again = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'order-abc-1')
      .json({ items: [{ product_id: String(w.product.id), qty: 2 }] })
    again.assertStatus(202)
    assert.equal(again.body().id, first.body().id)
    assert.equal(again.header('idempotent-replayed'), 'true')

    const conflict = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'order-abc-1')
      .json({ items: [{ product_id: w.product.id, qty: 3 }] })
    conflict.assertStatus(409)
    assert.equal(conflict.body().errors[0].code, 'E_CONFLICT')

    // Another customer may use the same key: keys are per customer.
    const otherCustomer = await givenUser(w.tenant, 'customer')
    const theirs = await client
      .post('/api/orders/')
      .bearerToken(otherCustomer.token)
      .header('Idempotency-Key', 'order-abc-1')
      .json(body)
    theirs.assertStatus(202)
    assert.notEqual(theirs.body().id, first.body().id)

    // A new key is a new order.
    const fresh = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'order-abc-2')
      .json(body)
    fresh.assertStatus(202)
    assert.notEqual(fresh.body().id, first.body().id)
    assert.equal(await orderCount(w.tenant.id, customer.id), 2)
  })

  test('an Idempotency-Key older than 24 hours is forgotten', async ({ client, assert }) => {
    const customer = await givenUser(w.tenant, 'customer')
    const body = { items: [{ product_id: w.product.id, qty: 1 }] }
    const first = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'old-key')
      .json(body)
    first.assertStatus(202)
    await db.rawQuery(
      `update ${quoteIdent(tenantSchema(w.tenant.id))}.idempotency_keys
       set created_at = now() - interval '25 hours' where customer_id = ?`,
      [customer.id]
    )
    const later = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .header('Idempotency-Key', 'old-key')
      .json({ items: [{ product_id: w.product.id, qty: 5 }] })
    later.assertStatus(202)
    assert.notEqual(later.body().id, first.body().id)
  })

  test('concurrent requests with one Idempotency-Key create one order', async ({
    client,
    assert,
  }) => {
    const customer = await givenUser(w.tenant, 'customer')
    const body = { items: [{ product_id: w.cheap.id, qty: 1 }] }
    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        client
          .post('/api/orders/')
          .bearerToken(customer.token)
          .header('Idempotency-Key', 'same-key-concurrent')
          .json(body)
      )
    )
    for (const response of responses) response.assertStatus(202)
    const ids = new Set(responses.map((response) => response.body().id))
    assert.equal(ids.size, 1)
    assert.equal(await orderCount(w.tenant.id, customer.id), 1)
  })

  test('a malformed Idempotency-Key is 422', async ({ client, assert }) => {
    const response = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .header('Idempotency-Key', 'x'.repeat(256))
      .json({ items: [{ product_id: w.product.id, qty: 1 }] })
    response.assertStatus(422)
    assert.deepEqual(errorFields(response.body()), ['Idempotency-Key'])
  })
})

test.group('Orders: reading', (group) => {
  let w: World
  let mine: number
  let theirs: number
  let assigned: number
  group.setup(async () => {
    await resetQueues()
    w = await givenWorld()
  })

  test('owner sees all, staff the orders assigned to them, customers their own', async ({
    client,
    assert,
  }) => {
    const place = async (customer: GivenUser) => {
      const order = await bodyOf(
        client
          .post('/api/orders/')
          .bearerToken(customer.token)
          .json({ items: [{ product_id: w.product.id, qty: 1 }] })
      )
      return order.id as number
    }
    mine = await place(w.customer)
    theirs = await place(w.otherCustomer)
    assigned = await place(w.customer)
    await expectStatus(
      client
        .patch(`/api/orders/${assigned}/`)
        .bearerToken(w.tenant.owner.token)
        .json({ assigned_to: w.staff.id }),
      200
    )

    const ids = async (user: GivenUser, query = '') => {
      const response = await client.get(`/api/orders/${query}`).bearerToken(user.token)
      response.assertStatus(200)
      return response.body().data.map((order: any) => order.id)
    }
    assert.deepEqual(await ids(w.tenant.owner), [assigned, theirs, mine])
    assert.deepEqual(await ids(w.staff), [assigned])
    assert.deepEqual(await ids(w.otherStaff), [])
    assert.deepEqual(await ids(w.customer), [assigned, mine])
    assert.deepEqual(await ids(w.otherCustomer), [theirs])
    assert.deepEqual(await ids(w.other.owner), [])
  })

  test('lists are paginated and filter by status', async ({ client, assert }) => {
    await confirmOrder({ tenantId: w.tenant.id, refId: mine })
    const page = await client
      .get('/api/orders/?per_page=2&page=1')
      .bearerToken(w.tenant.owner.token)
    page.assertStatus(200)
    assert.deepEqual(page.body().meta, { total: 3, per_page: 2, current_page: 1, last_page: 2 })
    assert.lengthOf(page.body().data, 2)

    const confirmed = await client
      .get('/api/orders/?status=confirmed')
      .bearerToken(w.tenant.owner.token)
    assert.deepEqual(
      confirmed.body().data.map((order: any) => order.id),
      [mine]
    )
    const pending = await client.get('/api/orders?status=pending').bearerToken(w.customer.token)
    assert.deepEqual(
      pending.body().data.map((order: any) => order.id),
      [assigned]
    )

    const bad = await client.get('/api/orders/?status=lost').bearerToken(w.tenant.owner.token)
    bad.assertStatus(422)
    assert.deepEqual(errorFields(bad.body()), ['status'])
    await expectStatus(
      client.get('/api/orders/?per_page=101').bearerToken(w.tenant.owner.token),
      422
    )
  })

  test('an order the caller cannot see is 404', async ({ client, assert }) => {
    await expectStatus(client.get(`/api/orders/${mine}/`).bearerToken(w.customer.token), 200)
    await expectStatus(client.get(`/api/orders/${mine}/`).bearerToken(w.tenant.owner.token), 200)
    await expectStatus(client.get(`/api/orders/${assigned}/`).bearerToken(w.staff.token), 200)

    for (const [user, id] of [
      [w.otherCustomer, mine],
      [w.staff, mine],
      [w.otherStaff, assigned],
      [w.other.owner, mine],
      [w.tenant.owner, 999999],
    ] as const) {
      const response = await client.get(`/api/orders/${id}/`).bearerToken(user.token)
      response.assertStatus(404)
      assert.equal(response.body().errors[0].code, 'E_NOT_FOUND')
    }
    await expectStatus(client.get('/api/orders/abc/').bearerToken(w.tenant.owner.token), 404)
    await expectStatus(client.get(`/api/orders/${mine}/`), 401)
  })
})

test.group('Orders: confirmation by the worker', (group) => {
  let w: World
  group.setup(async () => {
    await resetQueues()
    w = await givenWorld()
  })

  async function place(client: any, items: { product_id: number; qty: number }[]) {
    const response = await client.post('/api/orders/').bearerToken(w.customer.token).json({ items })
    response.assertStatus(202)
    return response.body().id as number
  }

  test('a product deleted since placement: rejected naming it, no stock moved', async ({
    client,
    assert,
  }) => {
    const kept = await givenProduct(w.tenant, { stock: 5 })
    const deleted = await givenProduct(w.tenant, { stock: 5 })
    const orderId = await place(client, [
      { product_id: kept.id, qty: 1 },
      { product_id: deleted.id, qty: 1 },
    ])
    await expectStatus(
      client.delete(`/api/products/${deleted.id}/`).bearerToken(w.tenant.owner.token),
      204
    )
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: orderId }), 'rejected')

    const order = await orderRow(w.tenant.id, orderId)
    assert.equal(order.status, 'rejected')
    assert.include(order.rejection_reason, `Product ${deleted.id}`)
    assert.include(order.rejection_reason, 'no longer exists')
    assert.equal(await stockOf(w.tenant.id, kept.id), 5)
    assert.lengthOf(await movementsOf(w.tenant.id, { orderId }), 0)
  })

  test('enough stock: confirmed, stock taken through the ledger, outbox row gone', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(w.tenant, { stock: 5 })
    const orderId = await place(client, [
      { product_id: product.id, qty: 2 },
      { product_id: w.cheap.id, qty: 4 },
    ])
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: orderId }), 'confirmed')

    const order = await orderRow(w.tenant.id, orderId)
    assert.equal(order.status, 'confirmed')
    assert.isNotNull(order.confirmed_at)
    assert.equal(await stockOf(w.tenant.id, product.id), 3)
    assert.equal(await ledgerSum(w.tenant.id, product.id), 3)
    const movements = await movementsOf(w.tenant.id, { orderId })
    assert.sameDeepMembers(
      movements.map(({ product_id: p, delta, kind }) => ({ p, delta, kind })),
      [
        { p: product.id, delta: -2, kind: 'order' },
        { p: w.cheap.id, delta: -4, kind: 'order' },
      ]
    )
    const { rows } = await db.rawQuery(
      `select count(*)::int as n from ${quoteIdent(tenantSchema(w.tenant.id))}.outbox where ref_id = ? and job = 'confirm-order'`,
      [orderId]
    )
    assert.equal(rows[0].n, 0)

    // A second delivery of the same job changes nothing.
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: orderId }), 'skipped')
    assert.equal(await stockOf(w.tenant.id, product.id), 3)
    assert.lengthOf(await movementsOf(w.tenant.id, { orderId }), 2)

    const shown = await client.get(`/api/orders/${orderId}/`).bearerToken(w.customer.token)
    assert.equal(shown.body().status, 'confirmed')
    assert.isString(shown.body().confirmed_at)
  })

  test('not enough stock: rejected with a reason naming the product, no stock moved', async ({
    client,
    assert,
  }) => {
    const scarce = await givenProduct(w.tenant, { stock: 1 })
    const orderId = await place(client, [
      { product_id: w.cheap.id, qty: 1 },
      { product_id: scarce.id, qty: 2 },
    ])
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: orderId }), 'rejected')
    const order = await orderRow(w.tenant.id, orderId)
    assert.equal(order.status, 'rejected')
    assert.include(order.rejection_reason, scarce.sku)
    assert.isNull(order.confirmed_at)
    assert.equal(await stockOf(w.tenant.id, scarce.id), 1)
    assert.lengthOf(await movementsOf(w.tenant.id, { orderId }), 0)
  })

  test('a product deleted after the order was placed: rejected', async ({ client, assert }) => {
    const doomed = await givenProduct(w.tenant, { stock: 5 })
    const orderId = await place(client, [{ product_id: doomed.id, qty: 1 }])
    await db.rawQuery(
      `delete from ${quoteIdent(tenantSchema(w.tenant.id))}.products where id = ?`,
      [doomed.id]
    )
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: orderId }), 'rejected')
    const rejected = await orderRow(w.tenant.id, orderId)
    assert.include(rejected.rejection_reason, doomed.sku)
    const shown = await client.get(`/api/orders/${orderId}/`).bearerToken(w.customer.token)
    assert.equal(shown.body().items[0].sku, doomed.sku)
  })
})

test.group('Orders: moving along (PATCH) and cancelling', (group) => {
  let w: World
  group.setup(async () => {
    await resetQueues()
    w = await givenWorld()
  })

  async function placed(client: any, customer = w.customer, qty = 1) {
    const response = await client
      .post('/api/orders/')
      .bearerToken(customer.token)
      .json({ items: [{ product_id: w.cheap.id, qty }] })
    response.assertStatus(202)
    return response.body().id as number
  }

  async function confirmed(client: any, customer = w.customer, qty = 1) {
    const id = await placed(client, customer, qty)
    await confirmOrder({ tenantId: w.tenant.id, refId: id })
    return id
  }

  const patch = (client: any, user: GivenUser, id: number, body: object) =>
    client.patch(`/api/orders/${id}/`).bearerToken(user.token).json(body)

  test('owner assigns to staff; the assigned staff ships and delivers', async ({
    client,
    assert,
  }) => {
    const id = await confirmed(client)
    const assignedResponse = await patch(client, w.tenant.owner, id, {
      assigned_to: String(w.staff.id),
    })
    assignedResponse.assertStatus(200)
    assert.equal(assignedResponse.body().assigned_to, w.staff.id)

    const shipped = await patch(client, w.staff, id, { status: 'shipped' })
    shipped.assertStatus(200)
    assert.equal(shipped.body().status, 'shipped')
    const delivered = await patch(client, w.staff, id, { status: 'delivered' })
    delivered.assertStatus(200)
    assert.equal(delivered.body().status, 'delivered')

    await expectStatus(patch(client, w.staff, id, { status: 'shipped' }), 409)
    await expectStatus(patch(client, w.tenant.owner, id, { status: 'cancelled' }), 409)
    await expectStatus(client.post(`/api/orders/${id}/cancel/`).bearerToken(w.customer.token), 409)

    // Unassign.
    const unassigned = await patch(client, w.tenant.owner, id, { assigned_to: null })
    unassigned.assertStatus(200)
    assert.isNull(unassigned.body().assigned_to)
  })

  test('illegal changes of state are 409', async ({ client, assert }) => {
    const pending = await placed(client)
    for (const status of ['shipped', 'delivered', 'confirmed', 'rejected', 'pending']) {
      const response = await patch(client, w.tenant.owner, pending, { status })
      assert.equal(response.status(), 409, status)
      assert.equal(response.body().errors[0].code, 'E_CONFLICT')
    }
    const done = await confirmed(client)
    for (const status of ['confirmed', 'rejected', 'pending', 'delivered']) {
      assert.equal(await statusOf(patch(client, w.tenant.owner, done, { status })), 409, status)
    }
    await expectStatus(patch(client, w.tenant.owner, done, { status: 'lost' }), 422)
    const row = await orderRow(w.tenant.id, done)
    assert.equal(row.status, 'confirmed')
  })

  test('who may PATCH: 404 for what one cannot see, 403 for what one may not do', async ({
    client,
    assert,
  }) => {
    const id = await confirmed(client)
    await expectStatus(patch(client, w.staff, id, { status: 'shipped' }), 404)
    await expectStatus(patch(client, w.otherCustomer, id, { status: 'shipped' }), 404)
    await expectStatus(patch(client, w.other.owner, id, { status: 'shipped' }), 404)
    await expectStatus(patch(client, w.customer, id, { status: 'shipped' }), 403)

    await expectStatus(patch(client, w.tenant.owner, id, { assigned_to: w.staff.id }), 200)
    await expectStatus(patch(client, w.staff, id, { assigned_to: w.otherStaff.id }), 403)
    await expectStatus(patch(client, w.staff, id, { status: 'cancelled' }), 403)
    await expectStatus(patch(client, w.otherStaff, id, { status: 'shipped' }), 404)
    const row = await orderRow(w.tenant.id, id)
    assert.equal(row.assigned_to, w.staff.id)
  })

  test('assigned_to must be a staff member of the tenant (422)', async ({ client, assert }) => {
    const id = await placed(client)
    const otherTenantStaff = await givenUser(w.other, 'staff')
    const inactiveStaff = await givenUser(w.tenant, 'staff', { isActive: false })
    for (const assignee of [
      w.customer.id,
      w.tenant.owner.id,
      otherTenantStaff.id,
      inactiveStaff.id,
      999999,
      'abc',
      0,
    ]) {
      const response = await patch(client, w.tenant.owner, id, { assigned_to: assignee })
      assert.equal(response.status(), 422, String(assignee))
      assert.deepEqual(errorFields(response.body()), ['assigned_to'])
    }
  })

  test('a customer cancels a pending order: nothing left to confirm', async ({
    client,
    assert,
  }) => {
    const id = await placed(client, w.customer, 2)
    const stock = await stockOf(w.tenant.id, w.cheap.id)
    const response = await client.post(`/api/orders/${id}/cancel/`).bearerToken(w.customer.token)
    response.assertStatus(200)
    assert.equal(response.body().status, 'cancelled')
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: id }), 'skipped')
    assert.equal(await stockOf(w.tenant.id, w.cheap.id), stock)
    assert.lengthOf(await movementsOf(w.tenant.id, { orderId: id }), 0)
  })

  test('the owner cancels a confirmed order: its stock comes back once', async ({
    client,
    assert,
  }) => {
    const before = await stockOf(w.tenant.id, w.cheap.id)
    const id = await confirmed(client, w.customer, 7)
    assert.equal(await stockOf(w.tenant.id, w.cheap.id), before - 7)

    const response = await client.post(`/api/orders/${id}/cancel`).bearerToken(w.tenant.owner.token)
    response.assertStatus(200)
    assert.equal(response.body().status, 'cancelled')
    const { rows } = await db.rawQuery(
      `select count(*)::int as n from ${quoteIdent(tenantSchema(w.tenant.id))}.outbox where job = 'restore-stock' and ref_id = ?`,
      [id]
    )
    assert.equal(rows[0].n, 1)

    assert.equal(await restoreStock({ tenantId: w.tenant.id, refId: id }), 'restored')
    assert.equal(await restoreStock({ tenantId: w.tenant.id, refId: id }), 'skipped')
    assert.equal(await stockOf(w.tenant.id, w.cheap.id), before)
    assert.equal(await ledgerSum(w.tenant.id, w.cheap.id), before)
    const movements = await movementsOf(w.tenant.id, { orderId: id })
    const kinds = movements.map((m) => [m.kind, m.delta])
    assert.deepEqual(kinds, [
      ['order', -7],
      ['cancellation', 7],
    ])
  })

  test('a restore that would pass the integer maximum gives back what fits and finishes', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(w.tenant, { stock: 10 })
    const placedOrder = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .json({ items: [{ product_id: product.id, qty: 7 }] })
    placedOrder.assertStatus(202)
    const id = placedOrder.body().id
    assert.equal(await confirmOrder({ tenantId: w.tenant.id, refId: id }), 'confirmed')
    await expectStatus(
      client
        .patch(`/api/products/${product.id}/`)
        .bearerToken(w.tenant.owner.token)
        .json({ stock: MAX_STOCK - 3 }),
      200
    )
    await expectStatus(client.post(`/api/orders/${id}/cancel/`).bearerToken(w.customer.token), 200)

    assert.equal(await restoreStock({ tenantId: w.tenant.id, refId: id }), 'restored')
    assert.equal(await stockOf(w.tenant.id, product.id), MAX_STOCK)
    assert.equal(await ledgerSum(w.tenant.id, product.id), MAX_STOCK)
    const { rows } = await db.rawQuery(
      `select count(*)::int as n from ${quoteIdent(tenantSchema(w.tenant.id))}.outbox where ref_id = ?`,
      [id]
    )
    assert.equal(rows[0].n, 0)
  })

  test('the owner may cancel through PATCH too', async ({ client, assert }) => {
    const id = await confirmed(client)
    const response = await patch(client, w.tenant.owner, id, { status: 'cancelled' })
    response.assertStatus(200)
    assert.equal(response.body().status, 'cancelled')
  })

  test('who may cancel: the owner and the customer who placed it', async ({ client }) => {
    const id = await placed(client)
    await expectStatus(patch(client, w.tenant.owner, id, { assigned_to: w.staff.id }), 200)
    await expectStatus(client.post(`/api/orders/${id}/cancel/`).bearerToken(w.staff.token), 403)
    await expectStatus(
      client.post(`/api/orders/${id}/cancel/`).bearerToken(w.otherCustomer.token),
      404
    )
    await expectStatus(
      client.post(`/api/orders/${id}/cancel/`).bearerToken(w.other.owner.token),
      404
    )
    await expectStatus(client.post(`/api/orders/${id}/cancel/`).bearerToken(w.customer.token), 200)
    await expectStatus(client.post(`/api/orders/${id}/cancel/`).bearerToken(w.customer.token), 409)
  })

  test('a rejected order cannot be cancelled (409)', async ({ client }) => {
    const scarce = await givenProduct(w.tenant, { stock: 0 })
    const response = await client
      .post('/api/orders/')
      .bearerToken(w.customer.token)
      .json({ items: [{ product_id: scarce.id, qty: 1 }] })
    const id = response.body().id
    await confirmOrder({ tenantId: w.tenant.id, refId: id })
    await expectStatus(
      client.post(`/api/orders/${id}/cancel/`).bearerToken(w.tenant.owner.token),
      409
    )
  })
})
