import { test } from '@japa/runner'
import fc from 'fast-check'
import env from '#start/env'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { assertErrorShape } from '#tests/support/assertions'
import { useResolver } from '#webhooks/url_guard'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Property: whatever a client sends to the webhook endpoints (hostile JSON
 * and raw bodies, query strings, path ids, any role), the answer is never
 * a 5xx and every error has the contract's shape. Host names resolve to
 * nothing here (no network), loopback addresses are allowed (test env).
 */
const BASE = `http://127.0.0.1:${env.get('PORT')}`

const hostile = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  "'; drop table webhook_endpoints; --",
  '%00',
  '*',
  'order.*',
  'ORDER.CREATED',
  'ping',
  'x'.repeat(3000),
  '\ud800',
  '🙂',
  'http://',
  'http://[::1',
  'http://127.0.0.1:99999/',
  'https://exa mple.com/',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'http://127.0.0.1:9/\u0000',
  'https://user:pass@127.0.0.1/',
  'http://0x7f000001/',
  'http://2130706433/',
  'http://127.1/',
  'https://some-host.invalid/',
  `http://${'a'.repeat(64)}.com/`
)

const values = fc.oneof(
  { weight: 3, arbitrary: hostile },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(hostile, fc.constant('order.created')), { maxLength: 4 }),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), {
      maxKeys: 2,
    }),
  }
)

const validBody = fc.record({
  url: fc.constantFrom('http://127.0.0.1:9/hooks', 'http://[::1]:9/x', 'http://127.0.0.1:9/a?b=c'),
  events: fc.subarray(['order.created', 'product.updated', '*', 'stock_adjustment.applied'], {
    minLength: 1,
  }),
  description: fc.option(fc.string({ maxLength: 40 })),
  is_active: fc.boolean(),
})

const bodies = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        validBody,
        fc.dictionary(
          fc.constantFrom('url', 'events', 'description', 'is_active', 'id', '__proto__'),
          values,
          { minKeys: 0, maxKeys: 2 }
        )
      )
      .map(([valid, bad]) => JSON.stringify({ ...valid, ...bad })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((body) => JSON.stringify(body)) },
  { weight: 1, arbitrary: fc.constantFrom('{', '[1,', 'null', '\u0000', '{"url":') }
)

const ids = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((index) => `{known:${index}}`) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', '1e3', '9'.repeat(20), '%00', 'abc') }
)

const queries = fc.oneof(
  fc.constant(''),
  fc
    .record(
      {
        status: fc.oneof(fc.constantFrom('pending', 'delivered', 'failed'), hostile),
        page: fc.oneof(fc.integer({ min: -1, max: 3 }).map(String), hostile),
        per_page: fc.oneof(fc.integer({ min: 0, max: 101 }).map(String), hostile),
      },
      { requiredKeys: [] }
    )
    .map((query) => `?${new URLSearchParams(query)}`)
)

test.group('Webhooks: fuzzing', (group) => {
  let tenant: GivenTenant
  let users: GivenUser[]
  let endpointIds: number[] = []

  group.setup(async () => {
    useResolver(async () => {
      throw new Error('no network in this test')
    })
    tenant = await givenTenant()
    users = [tenant.owner, await givenUser(tenant, 'staff'), await givenUser(tenant, 'customer')]
  })
  group.teardown(async () => {
    useResolver()
    // Pings made here must not be retried by later tests' workers.
    await db.rawQuery(`delete from ${quoteIdent(tenantSchema(tenant.id))}.webhook_endpoints`)
    await db.rawQuery(`delete from ${quoteIdent(tenantSchema(tenant.id))}.outbox`)
  })

  test('no input produces a 5xx or an error outside the contract shape', async ({ assert }) => {
    let created = 0
    const targets = fc.oneof(
      fc.record({ method: fc.constant('POST'), path: fc.constant('/api/webhooks/'), body: bodies }),
      fc.record({
        method: fc.constant('GET'),
        path: queries.map((query) => `/api/webhooks/${query}`),
        body: fc.constant(undefined),
      }),
      fc.record({
        method: fc.constantFrom('GET', 'PATCH', 'DELETE'),
        path: ids.map((id) => `/api/webhooks/${id}/`),
        body: bodies,
      }),
      fc.record({
        method: fc.constant('POST'),
        path: fc
          .tuple(ids, fc.constantFrom('rotate-secret', 'ping'))
          .map(([id, action]) => `/api/webhooks/${id}/${action}/`),
        body: bodies,
      }),
      fc.record({
        method: fc.constant('GET'),
        path: fc
          .tuple(ids, queries)
          .map(([id, query]) => `/api/webhooks/${id}/deliveries/${query}`),
        body: fc.constant(undefined),
      }),
      fc.record({
        method: fc.constant('POST'),
        path: fc
          .tuple(ids, fc.oneof(fc.nat({ max: 50 }).map(String), fc.constantFrom('0', 'x', '-1')))
          .map(([id, delivery]) => `/api/webhooks/${id}/deliveries/${delivery}/retry/`),
        body: fc.constant(undefined),
      })
    )

    await fc.assert(
      fc.asyncProperty(targets, fc.constantFrom(0, 0, 0, 1, 2), async (target, userIndex) => {
        const path = target.path.replace(
          /\{known:(\d+)\}/,
          (_, index) => `${endpointIds[Number(index) % endpointIds.length] ?? 1}`
        )
        const response = await fetch(`${BASE}${path}`, {
          method: target.method,
          headers: {
            'authorization': `Bearer ${users[userIndex].token}`,
            'content-type': 'application/json',
          },
          body: target.method === 'GET' || target.method === 'DELETE' ? undefined : target.body,
        })
        const text = await response.text()
        assert.isBelow(response.status, 500, `${target.method} ${path} ${target.body}: ${text}`)
        if (response.status >= 400) {
          assertErrorShape(assert, JSON.parse(text))
          return
        }
        if (response.status === 204) {
          endpointIds = endpointIds.filter((id) => path !== `/api/webhooks/${id}/`)
          return
        }
        const body = JSON.parse(text)
        assert.isObject(body)
        if (response.status === 201) {
          assert.match(body.secret, /^whsec_/)
          endpointIds.push(body.id)
          created++
        }
      }),
      { numRuns: 300 }
    )
    // Bodies did get past validation to the database.
    assert.isAbove(created, 0)
  }).timeout(60_000)
})
