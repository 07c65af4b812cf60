import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { givenProduct } from '#tests/support/catalog'

/**
 * A caller whose role may not use an endpoint gets 403 whatever it sends:
 * authorization is decided before the body (or the query string) is
 * validated, so a refused caller never learns what a valid body looks like.
 * Each case sends a body that would fail validation.
 */
interface Case {
  title: string
  as: 'staff' | 'customer' | 'owner'
  send: (client: ApiClient, world: World) => Promise<{ status(): number; body(): any }>
}

interface World {
  tenant: GivenTenant
  staff: GivenUser
  customer: GivenUser
  productId: number
  orderId: number
  token(role: Case['as']): string
}

async function givenWorld(client: ApiClient): Promise<World> {
  const tenant = await givenTenant()
  const staff = await givenUser(tenant, 'staff')
  const customer = await givenUser(tenant, 'customer')
  const product = await givenProduct(tenant, { stock: 10 })
  const placed = await client
    .post('/api/orders/')
    .bearerToken(customer.token)
    .json({ items: [{ product_id: product.id, qty: 1 }] })
  placed.assertStatus(202)
  const tokens = { owner: tenant.owner.token, staff: staff.token, customer: customer.token }
  return {
    tenant,
    staff,
    customer,
    productId: product.id,
    orderId: placed.body().id,
    token: (role) => tokens[role],
  }
}

const CASES: Case[] = [
  {
    title: 'staff PATCH /api/users/:id/ {"role": "owner"}',
    as: 'staff',
    send: (client, w) =>
      client
        .patch(`/api/users/${w.customer.id}/`)
        .bearerToken(w.token('staff'))
        .json({ role: 'owner' }),
  },
  {
    title: 'customer PATCH /api/users/:id/ with an invalid email',
    as: 'customer',
    send: (client, w) =>
      client
        .patch(`/api/users/${w.staff.id}/`)
        .bearerToken(w.token('customer'))
        .json({ email: 'nope' }),
  },
  {
    title: 'staff POST /api/users/ {}',
    as: 'staff',
    send: (client, w) => client.post('/api/users/').bearerToken(w.token('staff')).json({}),
  },
  {
    title: 'customer GET /api/users/?role=nobody',
    as: 'customer',
    send: (client, w) =>
      client
        .get('/api/users/')
        .qs({ role: 'nobody', per_page: 1000 })
        .bearerToken(w.token('customer')),
  },
  {
    title: 'staff POST /api/products/ {}',
    as: 'staff',
    send: (client, w) => client.post('/api/products/').bearerToken(w.token('staff')).json({}),
  },
  {
    title: 'staff PUT /api/products/:id/ {} (not assigned to them)',
    as: 'staff',
    send: (client, w) =>
      client.put(`/api/products/${w.productId}/`).bearerToken(w.token('staff')).json({}),
  },
  {
    title: 'customer PATCH /api/products/:id/ {"price": -1}',
    as: 'customer',
    send: (client, w) =>
      client
        .patch(`/api/products/${w.productId}/`)
        .bearerToken(w.token('customer'))
        .json({ price: -1 }),
  },
  {
    title: 'owner POST /api/orders/ {"items": []}',
    as: 'owner',
    send: (client, w) =>
      client.post('/api/orders/').bearerToken(w.token('owner')).json({ items: [] }),
  },
  {
    title: 'staff POST /api/orders/ {} with a malformed Idempotency-Key',
    as: 'staff',
    send: (client, w) =>
      client
        .post('/api/orders/')
        .header('idempotency-key', ' ')
        .bearerToken(w.token('staff'))
        .json({}),
  },
  {
    title: 'customer PATCH /api/orders/:id/ {"status": "nowhere"} (their own order)',
    as: 'customer',
    send: (client, w) =>
      client
        .patch(`/api/orders/${w.orderId}/`)
        .bearerToken(w.token('customer'))
        .json({ status: 'nowhere' }),
  },
  {
    title: 'customer POST /api/products/:id/stock-adjustments/ {}',
    as: 'customer',
    send: (client, w) =>
      client
        .post(`/api/products/${w.productId}/stock-adjustments/`)
        .bearerToken(w.token('customer'))
        .json({}),
  },
  {
    title: 'staff POST /api/products/:id/stock-adjustments/ {"delta": 0} (not assigned to them)',
    as: 'staff',
    send: (client, w) =>
      client
        .post(`/api/products/${w.productId}/stock-adjustments/`)
        .bearerToken(w.token('staff'))
        .json({ delta: 0 }),
  },
  {
    title: 'customer GET /api/products/:id/stock-adjustments/?page=0',
    as: 'customer',
    send: (client, w) =>
      client
        .get(`/api/products/${w.productId}/stock-adjustments/`)
        .qs({ page: 0 })
        .bearerToken(w.token('customer')),
  },
  {
    title: 'customer GET /api/products/:id/stock-movements/?per_page=1000',
    as: 'customer',
    send: (client, w) =>
      client
        .get(`/api/products/${w.productId}/stock-movements/`)
        .qs({ per_page: 1000 })
        .bearerToken(w.token('customer')),
  },
]

test.group('Authorization before validation', () => {
  let world: World | undefined

  test('{title}: 403, not 422')
    .with(CASES)
    .run(async ({ client, assert }, row) => {
      world ??= await givenWorld(client)
      const response = await row.send(client, world)
      assert.equal(response.status(), 403, JSON.stringify(response.body()))
      assert.equal(response.body().errors[0].code, 'E_AUTHORIZATION_FAILURE')
    })

  test('the same bodies from a caller who may use the endpoint are 422', async ({
    client,
    assert,
  }) => {
    const w = await givenWorld(client)
    const owner = w.token('owner')
    const invalid = [
      client.patch(`/api/users/${w.customer.id}/`).bearerToken(owner).json({ role: 'owner' }),
      client.post('/api/users/').bearerToken(owner).json({}),
      client.get('/api/users/').qs({ role: 'nobody' }).bearerToken(owner),
      client.post('/api/orders/').bearerToken(w.token('customer')).json({ items: [] }),
      client.patch(`/api/orders/${w.orderId}/`).bearerToken(owner).json({ status: 'nowhere' }),
      client.post(`/api/products/${w.productId}/stock-adjustments/`).bearerToken(owner).json({}),
      client
        .get(`/api/products/${w.productId}/stock-movements/`)
        .qs({ per_page: 1000 })
        .bearerToken(owner),
    ]
    for (const request of invalid) {
      const response = await request
      assert.equal(response.status(), 422, JSON.stringify(response.body()))
    }
  })
})
