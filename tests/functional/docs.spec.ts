import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from '@japa/runner'
import router from '@adonisjs/core/services/router'
import { ContractViolation, contract } from '#tests/support/openapi'
import { TEST_ROUTE_PREFIX } from '#tests/support/test_routes'

test.group('API documentation', () => {
  test('GET /openapi.json answers the OpenAPI 3.1 document as JSON', async ({ client, assert }) => {
    const response = await client.get('/openapi.json')
    response.assertStatus(200)
    assert.match(response.header('content-type')!, /^application\/json/)
    assert.deepEqual(response.body(), contract().document)

    const again = await client.get('/openapi.json/')
    again.assertStatus(200)
    assert.equal(again.body().openapi, contract().document.openapi)
  })

  test('GET /docs answers a reference page that loads only this server’s assets', async ({
    client,
    assert,
  }) => {
    const response = await client.get('/docs/')
    response.assertStatus(200)
    assert.match(response.header('content-type')!, /^text\/html/)
    assert.include(response.header('content-security-policy'), "default-src 'none'")
    assert.include(response.header('content-security-policy'), "script-src 'self'")

    const html = response.text()
    assert.notMatch(
      html,
      /(src|href)="(https?:)?\/\//,
      'the page must not load anything from elsewhere'
    )
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1])
    assert.includeMembers(assets, [
      '/docs/assets/swagger-ui.css',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/assets/swagger-ui-standalone-preset.js',
      '/docs/assets/init.js',
    ])

    for (const asset of assets) {
      const served = await client.get(asset)
      served.assertStatus(200)
    }
  })

  test('the page is started on /openapi.json without calling any validator', async ({
    client,
    assert,
  }) => {
    const response = await client.get('/docs/assets/init.js')
    response.assertStatus(200)
    assert.match(response.header('content-type')!, /^text\/javascript/)
    assert.include(response.text(), "url: '/openapi.json'")
    assert.include(response.text(), 'validatorUrl: null')
  })

  test('assets outside the whitelist are not found', async ({ client }) => {
    for (const path of [
      '/docs/assets/swagger-ui.js.map',
      '/docs/assets/index.html',
      '/docs/assets/package.json',
      '/docs/assets/..%2F..%2F..%2Fpackage.json',
      '/docs/assets/%2e%2e%2fabsolute-path.js',
      '/docs/assets/toString',
      '/docs/assets/__proto__',
    ]) {
      const response = await client.get(path)
      response.assertStatus(404)
    }
  })

  test('every route the server registers is documented', ({ assert }) => {
    const documented = new Set(contract().operations())
    const undocumented: string[] = []
    for (const routes of Object.values(router.toJSON())) {
      for (const route of routes) {
        // Registered by specs only (tests/support/test_routes.ts)
        if (route.pattern.startsWith(TEST_ROUTE_PREFIX)) continue
        const template = route.pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/(.)\/$/, '$1')
        for (const method of route.methods) {
          if (method === 'HEAD') continue
          if (!documented.has(`${method} ${template}`)) undocumented.push(`${method} ${template}`)
        }
      }
    }
    assert.deepEqual(undocumented, [], 'routes missing from docs/openapi.yaml')
  })

  test('every API client response is checked against the document', async ({ client, assert }) => {
    // A stand-in server answers a documented route off the document: the
    // global hook (tests/bootstrap.ts) must fail the request.
    const server: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ status: 'fine', uptime: 1 }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const error = await client
        .get(`http://127.0.0.1:${port}/health/live`)
        .then(() => undefined)
        .catch((caught: unknown) => caught)
      assert.instanceOf(error, ContractViolation)
      assert.include((error as Error).message, 'GET http://127.0.0.1:')
      assert.include((error as Error).message, 'body/status: must be equal to constant "ok"')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
