import app from '@adonisjs/core/services/app'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser, type GivenTenant } from '#tests/support/fixtures'
import { eventually, outboxCount, resetQueues } from '#tests/support/orders'
import { queue } from '#queue/queues'
import {
  deliveriesOf,
  eventCount,
  startReceiver,
  verifiedBy,
  type Receiver,
} from '#tests/support/webhooks'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import webhooksConfig from '#config/webhooks'
import { withTenant } from '#tenancy/context'
import { ProductService } from '#services/product_service'
import { useResolver } from '#webhooks/url_guard'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Webhooks end to end: the API, events written with the change, delivery
 * by the real worker (in this process) to real HTTP receivers on loopback.
 * The test environment allows loopback URLs (WEBHOOK_ALLOW_PRIVATE=true);
 * the tests of the URL rules switch that off.
 */
let sku = 0
const newProduct = (attributes: Record<string, unknown> = {}) => ({
  name: `Webhook product ${++sku}`,
  sku: `WH-${process.pid}-${Date.now().toString(36)}-${sku}`,
  price: '12.50',
  stock: 10,
  ...attributes,
})

async function subscribe(
  client: any,
  tenant: GivenTenant,
  receiver: Receiver,
  events: string[] = ['*']
) {
  const response = await client
    .post('/api/webhooks/')
    .bearerToken(tenant.owner.token)
    .json({ url: receiver.url, events, description: 'test receiver' })
  response.assertStatus(201)
  return response.body() as { id: number; secret: string; [key: string]: unknown }
}

function withWorkers(group: any) {
  let workers: WorkerHandle | undefined
  group.setup(async () => {
    await resetQueues()
    workers = startWorkers({ registry, concurrency: 4 })
  })
  group.teardown(async () => {
    await workers?.close()
  })
}

const saved = { ...webhooksConfig }
function restoreConfig() {
  Object.assign(webhooksConfig, saved)
  useResolver()
}

test.group('Webhooks / endpoints API', (group) => {
  group.each.teardown(restoreConfig)

  test('owner CRUD: 201 with a secret shown once, list, show, patch, delete', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      const created = await subscribe(client, tenant, receiver, [
        'order.created',
        'product.updated',
      ])
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/)
      assert.lengthOf(Buffer.from(created.secret.slice(6), 'base64'), 32)
      assert.deepInclude(created, {
        url: receiver.url,
        events: ['order.created', 'product.updated'],
        description: 'test receiver',
        is_active: true,
        disabled_reason: null,
      })

      const shown = await client.get(`/api/webhooks/${created.id}/`).bearerToken(tenant.owner.token)
      shown.assertStatus(200)
      assert.notProperty(shown.body(), 'secret')
      const withoutSecret: Record<string, unknown> = { ...created }
      delete withoutSecret.secret
      assert.deepEqual(shown.body(), withoutSecret)

      const { rows } = await db.rawQuery(
        `select secret_encrypted from ${quoteIdent(tenantSchema(tenant.id))}.webhook_endpoints where id = ?`,
        [created.id]
      )
      assert.notInclude(rows[0].secret_encrypted, created.secret.slice(6, 20))

      const list = await client.get('/api/webhooks/').bearerToken(tenant.owner.token)
      list.assertStatus(200)
      assert.deepEqual(
        list.body().data.map((endpoint: any) => endpoint.id),
        [created.id]
      )

      const patched = await client
        .patch(`/api/webhooks/${created.id}/`)
        .bearerToken(tenant.owner.token)
        .json({ events: ['*'], description: null, is_active: false })
      patched.assertStatus(200)
      assert.deepInclude(patched.body(), { events: ['*'], description: '', is_active: false })

      const deleted = await client
        .delete(`/api/webhooks/${created.id}/`)
        .bearerToken(tenant.owner.token)
      deleted.assertStatus(204)
      const gone = await client.get(`/api/webhooks/${created.id}/`).bearerToken(tenant.owner.token)
      gone.assertStatus(404)
    } finally {
      await receiver.close()
    }
  })

  test('staff and customers: 403 on every route, before the body is validated', async ({
    client,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      for (const role of ['staff', 'customer'] as const) {
        const user = await givenUser(tenant, role)
        const calls = [
          client.get('/api/webhooks/'),
          client.post('/api/webhooks/').json({ url: 42, events: 'nope' }),
          client.get(`/api/webhooks/${endpoint.id}/`),
          client.patch(`/api/webhooks/${endpoint.id}/`).json({ events: ['nope'] }),
          client.delete(`/api/webhooks/${endpoint.id}/`),
          client.post(`/api/webhooks/${endpoint.id}/rotate-secret/`),
          client.post(`/api/webhooks/${endpoint.id}/ping/`),
          client.get(`/api/webhooks/${endpoint.id}/deliveries/`).qs({ status: 'nope' }),
          client.post(`/api/webhooks/${endpoint.id}/deliveries/1/retry/`),
        ]
        for (const call of calls) {
          const response = await call.bearerToken(user.token)
          response.assertStatus(403)
        }
      }
    } finally {
      await receiver.close()
    }
  })

  test("another tenant's endpoint and delivery ids are 404", async ({ client }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    const receiver = await startReceiver()
    try {
      const endpoint = await subscribe(client, other, receiver)
      const token = tenant.owner.token
      const calls = [
        client.get(`/api/webhooks/${endpoint.id}/`),
        client.patch(`/api/webhooks/${endpoint.id}/`).json({ description: 'x' }),
        client.delete(`/api/webhooks/${endpoint.id}/`),
        client.post(`/api/webhooks/${endpoint.id}/rotate-secret/`),
        client.post(`/api/webhooks/${endpoint.id}/ping/`),
        client.get(`/api/webhooks/${endpoint.id}/deliveries/`),
        client.post(`/api/webhooks/${endpoint.id}/deliveries/1/retry/`),
      ]
      for (const call of calls) {
        const response = await call.bearerToken(token)
        response.assertStatus(404)
      }
      const stillThere = await client
        .get(`/api/webhooks/${endpoint.id}/`)
        .bearerToken(other.owner.token)
      stillThere.assertStatus(200)
    } finally {
      await receiver.close()
    }
  })

  test('422 on unknown events, an empty list, a bad url or description', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'http://127.0.0.1:9/x', events: ['order.exploded'] }, 'events.0'],
      [{ url: 'http://127.0.0.1:9/x', events: [] }, 'events'],
      [{ url: 'http://127.0.0.1:9/x', events: 'order.created' }, 'events'],
      [{ url: 'http://127.0.0.1:9/x', events: ['ping'] }, 'events.0'],
      [{ events: ['*'] }, 'url'],
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*'], description: 'x'.repeat(501) }, 'description'],
    ]
    for (const [body, field] of cases) {
      const response = await client
        .post('/api/webhooks/')
        .bearerToken(tenant.owner.token)
        .json(body)
      response.assertStatus(422)
      assert.include(
        response.body().errors.map((error: any) => error.field),
        field,
        JSON.stringify(body)
      )
    }
  })

  test('without WEBHOOK_ALLOW_PRIVATE: http, loopback, private and link-local URLs are 422 on url, also through DNS', async ({
    client,
    assert,
  }) => {
    webhooksConfig.allowPrivate = false
    const names: Record<string, string> = {
      'hooks.example.com': '127.0.0.1',
      'rebind.example.com': '10.1.2.3',
      'mapped.example.com': '::ffff:127.0.0.1',
      'public.example.com': '93.184.215.14',
    }
    useResolver(async (hostname) => {
      const address = names[hostname]
      if (!address) throw new Error('unknown host')
      return [{ address, family: address.includes(':') ? 6 : 4 }]
    })
    const tenant = await givenTenant()
    const refused = [
      'http://public.example.com/hooks',
      'https://127.0.0.1/hooks',
      'https://localhost.localdomain/hooks',
      'https://10.0.0.1/hooks',
      'https://172.16.5.4/hooks',
      'https://192.168.1.1/hooks',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/hooks',
      'https://0.0.0.0/hooks',
      'https://[::1]/hooks',
      'https://[fe80::1]/hooks',
      'https://[fd00::1]/hooks',
      'https://[::ffff:127.0.0.1]/hooks',
      'https://hooks.example.com/hooks',
      'https://rebind.example.com/hooks',
      'https://mapped.example.com/hooks',
      'https://user:pass@public.example.com/hooks',
    ]
    for (const url of refused) {
      const response = await client
        .post('/api/webhooks/')
        .bearerToken(tenant.owner.token)
        .json({ url, events: ['*'] })
      response.assertStatus(422)
      assert.deepEqual(
        response.body().errors.map((error: any) => error.field),
        ['url'],
        url
      )
    }
    const accepted = await client
      .post('/api/webhooks/')
      .bearerToken(tenant.owner.token)
      .json({ url: 'https://public.example.com/hooks', events: ['*'] })
    accepted.assertStatus(201)

    const changed = await client
      .patch(`/api/webhooks/${accepted.body().id}/`)
      .bearerToken(tenant.owner.token)
      .json({ url: 'https://hooks.example.com/x' })
    changed.assertStatus(422)
  })
})

test.group('Webhooks / delivery', (group) => {
  withWorkers(group)
  group.each.teardown(restoreConfig)

  test('every event type, signed, with the resource as the API shows it', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const customer = await givenUser(tenant, 'customer')
    const receiver = await startReceiver()
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const owner = tenant.owner.token
      const expected = new Map<string, unknown>()
      const expect = (type: string, data: any) => expected.set(`${type}:${data.id}`, data)

      const product = await client.post('/api/products/').bearerToken(owner).json(newProduct())
      product.assertStatus(201)
      expect('product.created', product.body())
      const productId = product.body().id

      const updated = await client
        .patch(`/api/products/${productId}/`)
        .bearerToken(owner)
        .json({ price: '13.00', stock: 20 })
      updated.assertStatus(200)
      expect('product.updated', updated.body())

      const placed = await client
        .post('/api/orders/')
        .bearerToken(customer.token)
        .json({ items: [{ product_id: productId, qty: 2 }] })
      placed.assertStatus(202)
      expect('order.created', placed.body())
      const orderId = placed.body().id
      const confirmed = await eventually(async () => {
        const response = await client.get(`/api/orders/${orderId}/`).bearerToken(owner)
        return response.body().status === 'confirmed' ? response.body() : null
      })
      expect('order.confirmed', confirmed)

      const shipped = await client
        .patch(`/api/orders/${orderId}/`)
        .bearerToken(owner)
        .json({ status: 'shipped' })
      shipped.assertStatus(200)
      expect('order.shipped', shipped.body())
      const delivered = await client
        .patch(`/api/orders/${orderId}/`)
        .bearerToken(owner)
        .json({ status: 'delivered' })
      delivered.assertStatus(200)
      expect('order.delivered', delivered.body())

      const tooMany = await client
        .post('/api/orders/')
        .bearerToken(customer.token)
        .json({ items: [{ product_id: productId, qty: 1000 }] })
      tooMany.assertStatus(202)
      expect('order.created', tooMany.body())
      const rejected = await eventually(async () => {
        const response = await client.get(`/api/orders/${tooMany.body().id}/`).bearerToken(owner)
        return response.body().status === 'rejected' ? response.body() : null
      })
      expect('order.rejected', rejected)

      const toCancel = await client
        .post('/api/orders/')
        .bearerToken(customer.token)
        .json({ items: [{ product_id: productId, qty: 1 }] })
      toCancel.assertStatus(202)
      expect('order.created', toCancel.body())
      const cancelled = await client
        .post(`/api/orders/${toCancel.body().id}/cancel/`)
        .bearerToken(owner)
      cancelled.assertStatus(200)
      expect('order.cancelled', cancelled.body())

      const applied = await client
        .post(`/api/products/${productId}/stock-adjustments/`)
        .bearerToken(owner)
        .json({ delta: 5, reason: 'found some' })
      applied.assertStatus(202)
      const refused = await client
        .post(`/api/products/${productId}/stock-adjustments/`)
        .bearerToken(owner)
        .json({ delta: -100000, reason: 'lost many' })
      refused.assertStatus(202)
      for (const [adjustment, status] of [
        [applied, 'applied'],
        [refused, 'rejected'],
      ] as const) {
        const final = await eventually(async () => {
          const response = await client
            .get(`/api/products/${productId}/stock-adjustments/${adjustment.body().id}/`)
            .bearerToken(owner)
          return response.body().status === status ? response.body() : null
        })
        expect(`stock_adjustment.${status}`, final)
      }

      const doomed = await client.post('/api/products/').bearerToken(owner).json(newProduct())
      expect('product.created', doomed.body())
      const lastSeen = await client.get(`/api/products/${doomed.body().id}/`).bearerToken(owner)
      const removed = await client.delete(`/api/products/${doomed.body().id}/`).bearerToken(owner)
      removed.assertStatus(204)
      expect('product.deleted', lastSeen.body())

      // The confirmation of the order to cancel may or may not have run
      // before the cancel: accept its confirmation event, expect no other.
      await eventually(async () => {
        const seen = new Set(receiver.requests.map((r) => `${r.json.type}:${r.json.data.id}`))
        return [...expected.keys()].every((key) => seen.has(key))
      })

      const types = new Set<string>()
      for (const request of receiver.requests) {
        const { id, type, created_at: createdAt, tenant_id: tenantId, data } = request.json
        assert.isTrue(verifiedBy(endpoint.secret, request), 'signature')
        assert.equal(request.headers['webhook-id'], id)
        assert.match(String(request.headers['webhook-timestamp']), /^\d{10}$/)
        assert.match(String(request.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/)
        assert.equal(request.headers['content-type'], 'application/json')
        assert.equal(tenantId, tenant.id)
        assert.match(createdAt, /Z$/)
        assert.deepEqual(Object.keys(request.json).sort(), [
          'created_at',
          'data',
          'id',
          'tenant_id',
          'type',
        ])
        types.add(type)
        const want = expected.get(`${type}:${data.id}`)
        if (want === undefined) {
          assert.equal(`${type}:${data.id}`, `order.confirmed:${toCancel.body().id}`)
          continue
        }
        assert.deepEqual(data, want, `${type} ${data.id}`)
      }
      assert.sameMembers(
        [...types].filter((type) => type !== 'ping'),
        [
          'order.created',
          'order.confirmed',
          'order.rejected',
          'order.cancelled',
          'order.shipped',
          'order.delivered',
          'product.created',
          'product.updated',
          'product.deleted',
          'stock_adjustment.applied',
          'stock_adjustment.rejected',
        ]
      )

      const log = await client
        .get(`/api/webhooks/${endpoint.id}/deliveries/`)
        .qs({ status: 'delivered', per_page: 100 })
        .bearerToken(owner)
      log.assertStatus(200)
      assert.equal(log.body().meta.total, receiver.requests.length)
      const ids = log.body().data.map((delivery: any) => delivery.id)
      assert.deepEqual(
        ids,
        [...ids].sort((a: number, b: number) => b - a)
      )
    } finally {
      await receiver.close()
    }
  })

  test('only subscribed events, one delivery per endpoint', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const orders = await startReceiver()
    const products = await startReceiver()
    const all = await startReceiver()
    try {
      await subscribe(client, tenant, orders, ['order.created'])
      await subscribe(client, tenant, products, ['product.created', 'product.updated'])
      await subscribe(client, tenant, all, ['*'])
      const created = await client
        .post('/api/products/')
        .bearerToken(tenant.owner.token)
        .json(newProduct())
      created.assertStatus(201)
      await eventually(async () => products.requests.length === 1 && all.requests.length === 1)
      assert.lengthOf(orders.requests, 0)
      assert.equal(products.requests[0].json.id, all.requests[0].json.id)
      const deliveries = await deliveriesOf(tenant.id)
      assert.lengthOf(deliveries, 2)
    } finally {
      await Promise.all([orders.close(), products.close(), all.close()])
    }
  })

  test('a receiver answering 500 twice then 200 gets the event on the third attempt, same id', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver((_request, index) => (index < 2 ? 500 : 200))
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const ping = await client
        .post(`/api/webhooks/${endpoint.id}/ping/`)
        .bearerToken(tenant.owner.token)
      ping.assertStatus(202)
      const eventId = ping.body().event_id
      const delivery = await eventually(async () => {
        const response = await client
          .get(`/api/webhooks/${endpoint.id}/deliveries/`)
          .bearerToken(tenant.owner.token)
        const first = response.body().data[0]
        return first?.status === 'delivered' ? first : null
      })
      assert.lengthOf(receiver.requests, 3)
      assert.deepEqual(
        receiver.requests.map((request) => request.headers['webhook-id']),
        [eventId, eventId, eventId]
      )
      assert.deepEqual(
        receiver.requests.map((request) => request.body),
        [receiver.requests[0].body, receiver.requests[0].body, receiver.requests[0].body]
      )
      assert.equal(receiver.requests[2].json.type, 'ping')
      assert.deepInclude(delivery, {
        event_id: eventId,
        event_type: 'ping',
        status: 'delivered',
        attempts: 3,
        last_status_code: 200,
        last_error: null,
        next_attempt_at: null,
      })
    } finally {
      await receiver.close()
    }
  })

  test('a rolled-back change sends nothing', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const products = await app.container.make(ProductService)
      await assert.rejects(() =>
        withTenant(tenant.id, async () => {
          await products.create(newProduct() as any)
          throw new Error('changed my mind')
        })
      )
      assert.equal(await eventCount(tenant.id), 0)

      // A later event is delivered; the rolled-back one never is.
      const ping = await client
        .post(`/api/webhooks/${endpoint.id}/ping/`)
        .bearerToken(tenant.owner.token)
      await eventually(async () => receiver.requests.length > 0)
      assert.deepEqual(
        receiver.requests.map((request) => request.json.id),
        [ping.body().event_id]
      )
      assert.equal(await eventCount(tenant.id), 1)
    } finally {
      await receiver.close()
    }
  })

  test('rotation: for 24 hours deliveries are signed with the new and the old secret', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const rotated = await client
        .post(`/api/webhooks/${endpoint.id}/rotate-secret/`)
        .bearerToken(tenant.owner.token)
      rotated.assertStatus(200)
      const secret = rotated.body().secret
      assert.notEqual(secret, endpoint.secret)
      await client.post(`/api/webhooks/${endpoint.id}/ping/`).bearerToken(tenant.owner.token)
      await eventually(async () => receiver.requests.length === 1)
      const [request] = receiver.requests
      const signatures = String(request.headers['webhook-signature']).split(' ')
      assert.lengthOf(signatures, 2)
      assert.isTrue(verifiedBy(secret, request))
      assert.isTrue(verifiedBy(endpoint.secret, request))
      assert.isTrue(
        verifiedBy(secret, {
          ...request,
          headers: { ...request.headers, 'webhook-signature': signatures[0] },
        })
      )
      assert.isTrue(
        verifiedBy(endpoint.secret, {
          ...request,
          headers: { ...request.headers, 'webhook-signature': signatures[1] },
        })
      )

      // Once the overlap has passed, only the new secret signs.
      await db.rawQuery(
        `update ${quoteIdent(tenantSchema(tenant.id))}.webhook_endpoints
         set previous_secret_expires_at = now() - interval '1 second' where id = ?`,
        [endpoint.id]
      )
      await client.post(`/api/webhooks/${endpoint.id}/ping/`).bearerToken(tenant.owner.token)
      await eventually(async () => receiver.requests.length === 2)
      assert.lengthOf(String(receiver.requests[1].headers['webhook-signature']).split(' '), 1)
      assert.isTrue(verifiedBy(secret, receiver.requests[1]))
      assert.isFalse(verifiedBy(endpoint.secret, receiver.requests[1]))
    } finally {
      await receiver.close()
    }
  })

  test('disabled after 20 consecutive failed deliveries; re-enabling clears the reason', async ({
    client,
    assert,
  }) => {
    webhooksConfig.retryWindowMs = 0
    const tenant = await givenTenant()
    const receiver = await startReceiver(() => 500)
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      for (let index = 0; index < 20; index++) {
        const ping = await client
          .post(`/api/webhooks/${endpoint.id}/ping/`)
          .bearerToken(tenant.owner.token)
        ping.assertStatus(202)
      }
      const disabled = await eventually(async () => {
        const response = await client
          .get(`/api/webhooks/${endpoint.id}/`)
          .bearerToken(tenant.owner.token)
        return response.body().is_active === false ? response.body() : null
      })
      assert.match(disabled.disabled_reason, /20 consecutive failed deliveries/)
      const failed = await client
        .get(`/api/webhooks/${endpoint.id}/deliveries/`)
        .qs({ status: 'failed', per_page: 100 })
        .bearerToken(tenant.owner.token)
      assert.equal(failed.body().meta.total, 20)
      assert.equal(failed.body().data[0].last_status_code, 500)

      // A disabled endpoint gets no new deliveries.
      await client.post('/api/products/').bearerToken(tenant.owner.token).json(newProduct())
      assert.lengthOf(await deliveriesOf(tenant.id), 20)

      const enabled = await client
        .patch(`/api/webhooks/${endpoint.id}/`)
        .bearerToken(tenant.owner.token)
        .json({ is_active: true })
      enabled.assertStatus(200)
      assert.deepInclude(enabled.body(), { is_active: true, disabled_reason: null })
    } finally {
      await receiver.close()
    }
  })

  test('manual retry delivers a failed delivery again, same event id', async ({
    client,
    assert,
  }) => {
    webhooksConfig.retryWindowMs = 0
    const tenant = await givenTenant()
    const receiver = await startReceiver((_request, index) => (index === 0 ? 503 : 200))
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const ping = await client
        .post(`/api/webhooks/${endpoint.id}/ping/`)
        .bearerToken(tenant.owner.token)
      const failed = await eventually(async () => {
        const response = await client
          .get(`/api/webhooks/${endpoint.id}/deliveries/`)
          .qs({ status: 'failed' })
          .bearerToken(tenant.owner.token)
        return response.body().data[0] ?? null
      })
      assert.equal(failed.last_status_code, 503)
      const retried = await client
        .post(`/api/webhooks/${endpoint.id}/deliveries/${failed.id}/retry/`)
        .bearerToken(tenant.owner.token)
      retried.assertStatus(202)
      assert.equal(retried.body().status, 'pending')
      await eventually(async () => receiver.requests.length === 2)
      assert.deepEqual(
        receiver.requests.map((request) => request.headers['webhook-id']),
        [ping.body().event_id, ping.body().event_id]
      )
      const missing = await client
        .post(`/api/webhooks/${endpoint.id}/deliveries/999999/retry/`)
        .bearerToken(tenant.owner.token)
      missing.assertStatus(404)
    } finally {
      await receiver.close()
    }
  })

  test('a name that resolves to a private address at delivery time is refused (DNS rebinding)', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      webhooksConfig.allowPrivate = false
      let address = '93.184.215.14'
      useResolver(async () => [{ address, family: 4 }])
      const created = await client
        .post('/api/webhooks/')
        .bearerToken(tenant.owner.token)
        .json({ url: `https://rebind.example.com:${receiver.port}/hooks`, events: ['*'] })
      created.assertStatus(201)
      address = '127.0.0.1'
      await client.post(`/api/webhooks/${created.body().id}/ping/`).bearerToken(tenant.owner.token)
      const attempted = await eventually(async () => {
        const response = await client
          .get(`/api/webhooks/${created.body().id}/deliveries/`)
          .bearerToken(tenant.owner.token)
        const first = response.body().data[0]
        return first?.attempts > 0 ? first : null
      })
      assert.equal(attempted.status, 'pending')
      assert.isNull(attempted.last_status_code)
      assert.match(attempted.last_error, /public address/)
      assert.lengthOf(receiver.requests, 0)
      // Its retries stop with it.
      await client.delete(`/api/webhooks/${created.body().id}/`).bearerToken(tenant.owner.token)
    } finally {
      await receiver.close()
    }
  })
})

test.group('Webhooks / backlog', () => {
  test('an endpoint deleted mid-backlog stops receiving', async ({ client, assert }) => {
    await resetQueues()
    const tenant = await givenTenant()
    const kept = await startReceiver()
    const dropped = await startReceiver()
    let workers: WorkerHandle | undefined
    try {
      const keptEndpoint = await subscribe(client, tenant, kept)
      const droppedEndpoint = await subscribe(client, tenant, dropped)
      // The backlog: events recorded while no worker runs.
      for (let index = 0; index < 5; index++) {
        const response = await client
          .post('/api/products/')
          .bearerToken(tenant.owner.token)
          .json(newProduct())
        response.assertStatus(201)
      }
      assert.lengthOf(await deliveriesOf(tenant.id), 10)
      const deleted = await client
        .delete(`/api/webhooks/${droppedEndpoint.id}/`)
        .bearerToken(tenant.owner.token)
      deleted.assertStatus(204)
      assert.lengthOf(await deliveriesOf(tenant.id), 5)

      workers = startWorkers({ registry, concurrency: 4 })
      await eventually(async () => kept.requests.length === 5)
      // Every job of the backlog ran, those of the deleted endpoint too.
      await eventually(async () => {
        const counts = await queue('webhooks').getJobCounts(
          'waiting',
          'prioritized',
          'active',
          'delayed'
        )
        return Object.values(counts).every((count) => count === 0)
      })
      assert.equal(await outboxCount(tenant.id), 0)
      assert.lengthOf(dropped.requests, 0)
      const left = await deliveriesOf(tenant.id)
      assert.isTrue(left.every((delivery) => delivery.endpoint_id === keptEndpoint.id))
    } finally {
      await workers?.close()
      await Promise.all([kept.close(), dropped.close()])
    }
  })
})
