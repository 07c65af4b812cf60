import { test } from '@japa/runner'
import { givenProduct } from '#tests/support/catalog'
import type { ApiClient } from '@japa/api-client'
import db from '#tests/support/platform_db'
import metricsConfig from '#config/metrics'
import { forgetPlatformStats } from '#metrics/platform_stats'
import { givenTenant, givenUser } from '#tests/support/fixtures'
import { outboxCount } from '#tests/support/orders'
import { labelNames, parseMetrics, valueOf } from '#tests/support/metrics'
import { expectStatus } from '#tests/support/http'

/**
 * GET /metrics of the API: Prometheus text, figures that move with real
 * traffic, never a label per tenant, and METRICS_TOKEN.
 */
async function scrape(client: ApiClient, token?: string) {
  forgetPlatformStats()
  const request = client.get('/metrics')
  if (token) request.bearerToken(token)
  const response = await request
  response.assertStatus(200)
  return response.text()
}

test.group('Metrics of the API', () => {
  test('GET /metrics answers every documented family in Prometheus text', async ({
    client,
    assert,
  }) => {
    const response = await client.get('/metrics/')
    response.assertStatus(200)
    assert.match(response.header('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const names = new Set(parseMetrics(response.text()).map((sample) => sample.name))
    for (const name of [
      'queue_jobs',
      'outbox_rows',
      'outbox_oldest_row_age_seconds',
      'tenants',
      'db_pool_connections',
      'db_pool_waiting_requests',
      'db_pool_borrowed_transactions_total',
      'db_pool_retired_connections_total',
      'process_cpu_user_seconds_total',
    ]) {
      assert.isTrue(names.has(name), `${name} is missing`)
    }
    for (const state of ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed']) {
      assert.isTrue(
        parseMetrics(response.text()).some(
          (sample) =>
            sample.name === 'queue_jobs' &&
            sample.labels.queue === 'orders' &&
            sample.labels.state === state
        ),
        `queue_jobs{queue="orders",state="${state}"} is missing`
      )
    }
  })

  test('requests move the counter and the histogram by route pattern, never by raw URL or tenant', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const owner = await givenUser(tenant, 'owner')
    const product = await givenProduct(tenant, { stock: 5 })
    const list = { method: 'GET', route: '/api/products', status: '200' }
    const one = { method: 'GET', route: '/api/products/:id', status: '200' }
    const missing = { method: 'GET', route: '/api/products/:id', status: '404' }

    const before = await scrape(client)
    for (let index = 0; index < 3; index++) {
      await expectStatus(client.get('/api/products/').bearerToken(owner.token), 200)
    }
    await expectStatus(client.get(`/api/products/${product.id}`).bearerToken(owner.token), 200)
    await expectStatus(client.get('/api/products/987654321').bearerToken(owner.token), 404)
    await expectStatus(client.get('/no/such/path'), 404)
    const after = await scrape(client)

    const delta = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels)
    assert.equal(delta('http_requests_total', list), 3)
    assert.equal(delta('http_request_duration_seconds_count', list), 3)
    assert.equal(delta('http_request_duration_seconds_bucket', { ...list, le: '+Inf' }), 3)
    assert.isAbove(delta('http_request_duration_seconds_sum', list), 0)
    assert.equal(delta('http_requests_total', one), 1)
    assert.equal(delta('http_requests_total', missing), 1)
    assert.equal(
      delta('http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }),
      1
    )

    assert.notInclude(after, '987654321')
    assert.notInclude(after, `/api/products/${product.id}"`)
    assert.notInclude(after, '/no/such/path')
    for (const label of labelNames(after)) assert.notMatch(label, /tenant|user/)
    assert.notInclude(after, `tenant_${tenant.id}`)
  })

  test('tenants by status and the outbox backlog follow the database', async ({
    client,
    assert,
  }) => {
    const before = await scrape(client)
    const tenant = await givenTenant()
    const suspended = await givenTenant()
    await db.from('tenants').where('id', suspended.id).update({ status: 'suspended' })
    const customer = await givenUser(tenant, 'customer')
    const product = await givenProduct(tenant, { stock: 5 })

    // An order leaves an outbox row until a worker confirms it; no worker
    // runs in this suite.
    await expectStatus(
      client
        .post('/api/orders/')
        .bearerToken(customer.token)
        .json({ items: [{ product_id: product.id, qty: 1 }] }),
      202
    )
    assert.equal(await outboxCount(tenant.id), 1)
    await db.rawQuery(
      `update "tenant_${tenant.id}".outbox set created_at = now() - interval '1 hour'`
    )

    const after = await scrape(client)
    assert.equal(
      valueOf(after, 'tenants', { status: 'active' }) -
        valueOf(before, 'tenants', { status: 'active' }),
      1
    )
    assert.equal(
      valueOf(after, 'tenants', { status: 'suspended' }) -
        valueOf(before, 'tenants', { status: 'suspended' }),
      1
    )
    assert.equal(valueOf(after, 'outbox_rows') - valueOf(before, 'outbox_rows'), 1)
    assert.isAtLeast(valueOf(after, 'outbox_oldest_row_age_seconds'), 3600)
    const { rows } = await db.rawQuery('select count(*)::int as n from public.tenants')
    assert.equal(
      valueOf(after, 'tenants', { status: 'active' }) +
        valueOf(after, 'tenants', { status: 'suspended' }),
      rows[0].n
    )

    await db.rawQuery(`delete from "tenant_${tenant.id}".outbox`)
  })

  test('with METRICS_TOKEN set, a scrape needs the bearer token', async ({
    client,
    assert,
    cleanup,
  }) => {
    const previous = metricsConfig.token
    metricsConfig.token = 'metrics-token-for-this-test'
    cleanup(() => {
      metricsConfig.token = previous
    })

    const anonymous = await client.get('/metrics')
    anonymous.assertStatus(401)
    assert.equal(anonymous.header('www-authenticate'), 'Bearer')
    assert.equal(anonymous.body().errors[0].code, 'E_UNAUTHORIZED_ACCESS')
    await expectStatus(client.get('/metrics').bearerToken('wrong-token'), 401)
    const text = await scrape(client, 'metrics-token-for-this-test')
    assert.include(text, 'http_requests_total')
  })
})
