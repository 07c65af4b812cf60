import { test } from '@japa/runner'
import { ContractViolation, OpenApiContract, contract } from '#tests/support/openapi'

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }

const product = {
  id: 7,
  name: 'Desk',
  sku: 'DESK-1',
  price: '1200.00',
  stock: 3,
  description: '',
  is_active: true,
  assigned_to: null,
  created_at: '2025-01-31T12:00:00.000Z',
  updated_at: '2025-01-31T12:00:00.000Z',
}

const order = {
  id: 1,
  status: 'pending',
  customer_id: 4,
  assigned_to: null,
  items: [
    {
      product_id: 7,
      sku: 'DESK-1',
      name: 'Desk',
      unit_price: '1200.00',
      qty: 2,
      line_total: '2400.00',
    },
  ],
  total: '2400.00',
  rejection_reason: null,
  created_at: '2025-01-31T12:00:00.000Z',
  confirmed_at: null,
  updated_at: '2025-01-31T12:00:00.000Z',
}

const notFound = { errors: [{ message: 'Resource not found', code: 'E_NOT_FOUND' }] }

function json(method: string, url: string, status: number, body: unknown, headers = {}) {
  return { method, url, status, headers: { ...JSON_HEADERS, ...headers }, body, hasBody: true }
}

test.group('OpenAPI contract checker', () => {
  test('the document is OpenAPI 3.1 and documents every route of the contract', ({ assert }) => {
    const doc = contract().document
    assert.match(doc.openapi, /^3\.1\.\d+$/)
    const operations = contract().operations()
    for (const operation of [
      'POST /api/auth/register',
      'POST /api/auth/register/customer',
      'POST /api/auth/login',
      'POST /api/auth/refresh',
      'POST /api/auth/logout',
      'GET /api/auth/me',
      'GET /api/users',
      'POST /api/users',
      'GET /api/users/{id}',
      'PATCH /api/users/{id}',
      'DELETE /api/users/{id}',
      'GET /api/products',
      'POST /api/products',
      'GET /api/products/{id}',
      'PUT /api/products/{id}',
      'PATCH /api/products/{id}',
      'DELETE /api/products/{id}',
      'POST /api/products/{id}/stock-adjustments',
      'GET /api/products/{id}/stock-movements',
      'POST /api/orders',
      'GET /api/orders',
      'GET /api/orders/{id}',
      'PATCH /api/orders/{id}',
      'POST /api/orders/{id}/cancel',
      'GET /health/live',
      'GET /health/ready',
      'GET /openapi.json',
      'GET /docs',
    ]) {
      assert.include(operations, operation)
    }
  })

  test('every operation has a unique operationId and documents its errors in the error shape', ({
    assert,
  }) => {
    const doc = contract().document
    const ids = new Set<string>()
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        if (method === 'parameters') continue
        assert.isString(operation.operationId, `${method} ${path} has no operationId`)
        assert.isFalse(ids.has(operation.operationId), `duplicate ${operation.operationId}`)
        ids.add(operation.operationId)
        const security: object[] = operation.security ?? doc.security ?? []
        // `{}` among the alternatives: authentication is optional (GET /metrics
        // needs METRICS_TOKEN only when it is set), so there is no role to refuse.
        const optional = security.some((requirement) => Object.keys(requirement).length === 0)
        const authenticated = security.length > 0 && !optional
        if (optional) {
          assert.property(operation.responses, '401', `${operation.operationId} lacks 401`)
        }
        if (authenticated) {
          assert.property(operation.responses, '401', `${operation.operationId} lacks 401`)
          assert.property(operation.responses, '403', `${operation.operationId} lacks 403`)
        }
        if (path.startsWith('/api/')) {
          assert.property(operation.responses, '503', `${operation.operationId} lacks 503`)
        }
        if (operation.requestBody) {
          for (const status of ['400', '413', '422']) {
            assert.property(operation.responses, status, `${operation.operationId} lacks ${status}`)
          }
        }
      }
    }
  })

  test('a conforming response passes', ({ assert }) => {
    assert.deepEqual(contract().problems(json('GET', '/api/products/7', 200, product)), [])
    assert.deepEqual(contract().problems(json('POST', '/api/orders/', 202, order)), [])
    assert.deepEqual(
      contract().problems(
        json('GET', '/api/products?page=1&per_page=20', 200, {
          data: [product],
          meta: { total: 1, per_page: 20, current_page: 1, last_page: 1 },
        })
      ),
      []
    )
    assert.deepEqual(
      contract().problems({
        method: 'DELETE',
        url: '/api/products/7/',
        status: 204,
        headers: {},
        hasBody: false,
      }),
      []
    )
  })

  test('a body off its schema fails with the field and the reason', ({ assert }) => {
    const problems = contract().problems(
      json('GET', '/api/products/7', 200, { ...product, price: 1200, internal: true })
    )
    assert.includeMembers(problems, [
      'body/price: must be string',
      'body: must NOT have additional properties (internal)',
    ])

    const missing = contract().problems(
      json('GET', '/api/orders/1', 200, { ...order, items: undefined })
    )
    assert.include(missing, "body: must have required property 'items'")

    const notUtc = contract().problems(
      json('GET', '/api/orders/1', 200, { ...order, created_at: '2025-01-31T12:00:00+02:00' })
    )
    assert.lengthOf(notUtc, 1)
    assert.match(notUtc[0], /^body\/created_at: must match pattern/)
  })

  test('an undocumented status fails, and so does an error off the error shape', ({ assert }) => {
    assert.deepEqual(
      contract().problems(
        json('GET', '/api/products/7', 500, {
          errors: [{ message: 'Internal server error', code: 'E_INTERNAL_SERVER_ERROR' }],
        })
      ),
      ['status 500 is not documented for getProduct (documented: 200, 401, 403, 404, 429, 503)']
    )
    assert.deepEqual(
      contract().problems(json('GET', '/api/products/7', 404, { error: 'not found' })),
      [
        "body: must have required property 'errors'",
        'body: must NOT have additional properties (error)',
      ]
    )
    assert.include(
      contract().problems(
        json('POST', '/api/products', 422, {
          errors: [{ message: 'Required', code: 'E_VALIDATION_ERROR' }],
        })
      ),
      "body/errors/0: must have required property 'field'"
    )
  })

  test('a 429 needs its Retry-After header', ({ assert }) => {
    const limited = { errors: [{ message: 'Too many requests', code: 'E_TOO_MANY_REQUESTS' }] }
    assert.deepEqual(contract().problems(json('POST', '/api/auth/login', 429, limited)), [
      'header Retry-After is missing',
    ])
    assert.deepEqual(
      contract().problems(json('POST', '/api/auth/login', 429, limited, { 'retry-after': '30' })),
      []
    )
  })

  test('an undocumented route may only answer 404 in the error shape', ({ assert }) => {
    assert.deepEqual(contract().problems(json('GET', '/api/nothing-here/', 404, notFound)), [])
    assert.deepEqual(contract().problems(json('DELETE', '/api/auth/me', 404, notFound)), [])
    assert.deepEqual(contract().problems(json('GET', '/api/nothing-here', 200, {})), [
      'GET /api/nothing-here is not documented; only a 404 may answer it',
    ])
  })

  test('a body where none is documented, or an undocumented media type, fails', ({ assert }) => {
    assert.deepEqual(contract().problems(json('DELETE', '/api/products/7', 204, {}, {})), [
      'status 204 is documented without a body, but one was sent',
    ])
    assert.deepEqual(
      contract().problems({
        method: 'GET',
        url: '/api/products/7',
        status: 200,
        headers: { 'content-type': 'text/html' },
        hasBody: true,
        text: '<p>hi</p>',
      }),
      ['content-type "text/html" is not documented for status 200 (documented: application/json)']
    )
  })

  test('the operation is found by method and path template', ({ assert }) => {
    assert.deepInclude(contract().findOperation('GET', '/api/products/42/?page=2'), {
      operationId: 'getProduct',
      params: { id: '42' },
    })
    assert.equal(
      contract().findOperation('POST', 'http://127.0.0.1:3333/api/auth/register/customer/')
        ?.operationId,
      'registerCustomer'
    )
    assert.equal(contract().findOperation('HEAD', '/health/live')?.operationId, 'healthLive')
    assert.isUndefined(contract().findOperation('PUT', '/api/orders/1'))
  })

  test('assertConforms names the request, the status and every problem', ({ assert }) => {
    assert.throws(
      () =>
        contract().assertConforms(json('GET', '/api/products/7', 200, { ...product, stock: -1 })),
      ContractViolation,
      /GET \/api\/products\/7 → 200 \(operation getProduct, GET \/api\/products\/\{id\}\)\n {2}- body\/stock: must be >= 0/
    )
  })

  test('a document with a broken $ref fails at load', ({ assert }) => {
    const doc = structuredClone(contract().document)
    doc.components.schemas.Product.properties.price = { $ref: '#/components/schemas/Nope' }
    assert.throws(() => new OpenApiContract(doc), /Nope/)
  })

  test('a schema keyword typo fails at load', ({ assert }) => {
    const doc = structuredClone(contract().document)
    doc.components.schemas.Product.properties.name = { type: 'string', minLenght: 1 }
    assert.throws(() => new OpenApiContract(doc), /unknown keyword: "minLenght"/)
  })
})
