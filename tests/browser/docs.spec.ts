import { existsSync } from 'node:fs'
import { test } from '@japa/runner'
import { chromium, type Browser } from 'playwright-core'

/**
 * The reference at /docs, rendered by a real browser: Debian's Chromium
 * driven by playwright-core, against the test HTTP server.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

test.group('API reference in a browser', (group) => {
  let browser: Browser

  group.setup(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install Debian's "chromium" package ` +
          '(apt-get install chromium) or point CHROMIUM_PATH at a Chromium binary'
      )
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    return () => browser.close()
  })

  test('/docs renders the operations of the API from this server alone', async ({ assert }) => {
    const origin = `http://${process.env.HOST}:${process.env.PORT}`
    const page = await browser.newPage()
    const requested: string[] = []
    const failures: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    page.on('requestfailed', (request) =>
      failures.push(`${request.url()}: ${request.failure()?.errorText}`)
    )
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`))

    const response = await page.goto(`${origin}/docs`)
    assert.equal(response?.status(), 200)

    await page.locator('.opblock-summary-path').first().waitFor({ timeout: 30_000 })
    const paths = await page
      .locator('.opblock-summary-path')
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-path')))
    assert.includeMembers(paths, [
      '/api/products',
      '/api/products/{id}',
      '/api/orders',
      '/api/orders/{id}',
    ])
    assert.includeMembers(paths, ['/api/auth/login', '/api/users', '/health/ready'])

    const title = await page.locator('.info .title').innerText()
    assert.include(title, 'tenant-commerce API')

    assert.deepEqual(failures, [], 'the page must load without errors')
    assert.deepEqual(
      requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:')),
      [],
      'the page must not reach outside this server'
    )
    assert.includeMembers(requested, [`${origin}/openapi.json`])
    await page.close()
  })
})
