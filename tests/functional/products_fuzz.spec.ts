import { test } from '@japa/runner'
import fc from 'fast-check'
import env from '#start/env'
import { withTenant } from '#tenancy/context'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { assertErrorShape, givenProduct } from '#tests/support/catalog'

/**
 * Property: whatever a client sends to the product endpoints (random and
 * hostile JSON bodies, raw malformed bodies, query strings, path ids), the
 * answer is never a 5xx, and every error has the contract's shape.
 *
 * Requests go through `fetch` so that raw bodies and unencoded query
 * strings reach the server as they are.
 */
const BASE = `http://127.0.0.1:${env.get('PORT')}`

const hostileStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  "'",
  '"',
  '%',
  '_',
  '\\',
  "'; drop table products; --",
  '%00',
  '%%',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '1e3',
  '1e309',
  '9'.repeat(40),
  '-9223372036854775809',
  '１２',
  '١٢٣',
  '12.345',
  '12,50',
  'true',
  'null',
  '<script>alert(1)</script>',
  'x'.repeat(300),
  '\ud800',
  '\udfff\ud800',
  '🙂'.repeat(70),
  '\u202e\u200b'
)

/**
 * Mostly the hostile strings, alone or inside random text, so that each
 * run has a fair chance of hitting them; sometimes any text at all.
 */
const strings = fc.oneof(
  { weight: 3, arbitrary: hostileStrings },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 8 }), hostileStrings, fc.string({ maxLength: 8 }))
      .map((parts) => parts.join('')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) }
)

const numbers = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    -1,
    0,
    1,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 53,
    2 ** 63,
    -(2 ** 63),
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    0.1 + 0.2,
    1e-7
  )
)

const values = fc.oneof(
  { weight: 4, arbitrary: strings },
  { weight: 2, arbitrary: numbers },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), {
      maxKeys: 3,
    }),
  }
)

const FIELDS = ['name', 'sku', 'price', 'stock', 'description', 'is_active', 'assigned_to']

/**
 * A valid body with some fields replaced by hostile values, so that input
 * also gets past validation and reaches the database.
 */
const productBodies = fc
  .tuple(
    fc.record({
      name: fc.string({ minLength: 1, maxLength: 30 }),
      sku: fc.string({ minLength: 1, maxLength: 20 }),
      price: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom('0.5', '12.00')),
      stock: fc.integer({ min: 0, max: 1000 }),
    }),
    fc.dictionary(
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...FIELDS) },
        { weight: 1, arbitrary: fc.constantFrom('id', 'tenant_id', '__proto__', 'constructor') }
      ),
      values,
      { minKeys: 1, maxKeys: 2 }
    )
  )
  .map(([valid, hostile]) => ({ ...valid, ...hostile }))

const bodies = fc.oneof(
  { weight: 6, arbitrary: productBodies.map((body) => JSON.stringify(body)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((body) => JSON.stringify(body)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  fc.constantFrom(
    '{',
    '{"name":',
    '[1,2',
    'null',
    '""',
    '{"a":1}{',
    '\u0000',
    '{"__proto__":{"x":1}}'
  )
)

const QUERY_KEYS = ['search', 'page', 'per_page', 'ordering', 'is_active', 'search[]', 'page[a]']

/**
 * A valid query string with one key replaced or added with a hostile
 * value (so that it reaches the database), or any keys at all.
 */
const validQueries = fc.record(
  {
    search: fc.string({ maxLength: 6 }),
    page: fc.integer({ min: 1, max: 3 }).map(String),
    per_page: fc.integer({ min: 1, max: 100 }).map(String),
    ordering: fc.constantFrom('name', '-price', 'created_at', '-stock'),
    is_active: fc.constantFrom('true', '0'),
  },
  { requiredKeys: [] }
)

const queries = fc
  .oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          validQueries,
          fc.oneof(
            { weight: 3, arbitrary: fc.constant('search') },
            { weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) },
            { weight: 1, arbitrary: fc.string({ maxLength: 5 }) }
          ),
          fc.oneof(strings, fc.integer().map(String))
        )
        .map(([valid, key, value]) => ({ ...valid, [key]: value }) as Record<string, string>),
    },
    {
      weight: 1,
      arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), strings, { maxKeys: 3 }),
    }
  )
  .map((query) => {
    const text = new URLSearchParams(query).toString()
    return text ? `?${text}` : ''
  })
  .chain((query) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(query) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '?search=%',
          '?search=%E0%A4%A',
          '?page=1&page=2',
          '?ordering[]=name',
          '?=&&='
        ),
      }
    )
  )

interface Target {
  method: string
  path: string
  body?: string
}

test.group('Products: fuzzing', (group) => {
  let tenant: GivenTenant
  let users: GivenUser[]
  let productIds: number[]

  group.setup(async () => {
    tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const customer = await givenUser(tenant, 'customer')
    users = [tenant.owner, staff, customer]
    productIds = []
    for (let index = 0; index < 6; index++) {
      const product = await givenProduct(tenant, {
        assigned_to: index % 2 ? staff.id : null,
        is_active: index !== 5,
      })
      productIds.push(product.id)
    }
  })

  test('no input produces a 5xx or an error outside the contract shape', async ({ assert }) => {
    const ids = fc.oneof(
      { weight: 4, arbitrary: fc.nat().map((index) => `{known:${index}}`) },
      { weight: 1, arbitrary: fc.integer({ min: -10, max: 2 ** 40 }).map(String) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('0', '01', '1.0', '1e3', '-1', '9'.repeat(20), '%00', '..'),
      },
      {
        weight: 1,
        arbitrary: fc
          .string({ unit: 'binary', maxLength: 12 })
          .map((text) => encodeURIComponent(text)),
      }
    )

    const targets: fc.Arbitrary<Target> = fc.oneof(
      {
        weight: 2,
        arbitrary: fc.record({
          method: fc.constant('GET'),
          path: queries.map((query) => `/api/products/${query}`),
        }),
      },
      fc.record({
        method: fc.constant('POST'),
        path: fc.constant('/api/products/'),
        body: bodies,
      }),
      fc.record({
        method: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'),
        path: ids.map((id) => `/api/products/${id}/`),
        body: bodies,
      }),
      fc.record({
        method: fc.constant('GET'),
        path: fc
          .tuple(ids, queries)
          .map(([id, query]) => `/api/products/${id}/stock-movements/${query}`),
      })
    )

    await fc.assert(
      fc.asyncProperty(targets, fc.constantFrom(0, 0, 0, 1, 2), async (target, userIndex) => {
        // `{known:n}` stands for one of the products that exist right now.
        const path = target.path.replace(
          /\{known:(\d+)\}/,
          (_, index) => `${productIds[Number(index) % productIds.length] ?? 1}`
        )
        const response = await fetch(`${BASE}${path}`, {
          method: target.method,
          headers: {
            'authorization': `Bearer ${users[userIndex].token}`,
            'content-type': 'application/json',
          },
          body: target.method === 'GET' ? undefined : target.body,
        })
        const text = await response.text()
        assert.isBelow(response.status, 500, `${target.method} ${path}: ${text}`)
        if (response.status >= 400) {
          assertErrorShape(assert, JSON.parse(text))
          return
        }
        if (response.status === 204) {
          productIds = productIds.filter((id) => path !== `/api/products/${id}/`)
          return
        }
        const body = JSON.parse(text)
        assert.isObject(body)
        if (response.status === 201) productIds.push(body.id)
      }),
      { numRuns: 400 }
    )

    // Whatever went through, the ledger still sums to the stock.
    const broken = await withTenant(tenant.id, async (trx) => {
      const { rows } = await trx.rawQuery(
        `select p.id from products p
         where p.stock <> (select coalesce(sum(delta), 0) from stock_movements m where m.product_id = p.id)`
      )
      return rows
    })
    assert.deepEqual(broken, [])
  }).timeout(60_000)
})
