import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import env from '#start/env'
import { databaseName } from '#config/database'
import { signAccessToken } from '#auth/jwt'
import { givenTenant } from '#tests/support/fixtures'

/**
 * A port nothing listens on: bound, then released.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitForReady(url: string, deadline: number) {
  while (Date.now() < deadline) {
    try {
      return await fetch(url)
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  throw new Error(`${url} did not answer`)
}

/**
 * Starts the real server entrypoint with some dependency pointed at a port
 * nothing listens on.
 */
async function startServer(overrides: Record<string, string>, cleanup: (fn: () => void) => void) {
  const port = await freePort()
  const server = spawn(process.execPath, ['--import', '@poppinss/ts-exec', 'bin/server.ts'], {
    cwd: app.makePath(),
    env: {
      ...process.env,
      NODE_ENV: 'development',
      ENV_PATH: 'tmp/no-env',
      HOST: '127.0.0.1',
      PORT: String(port),
      DB_DATABASE: databaseName,
      LOG_LEVEL: 'silent',
      APP_KEY: env.get('APP_KEY').release(),
      JWT_SECRET: env.get('JWT_SECRET').release(),
      ...overrides,
    },
    stdio: 'ignore',
  })
  cleanup(() => {
    server.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  await waitForReady(`${base}/health/live`, Date.now() + 30_000)
  return base
}

test.group('Readiness', () => {
  test('answers 503 with a per-check report when Redis is down', async ({ assert, cleanup }) => {
    const redisPort = String(await freePort())
    const base = await startServer({ REDIS_PORT: redisPort }, cleanup)

    const response = await fetch(`${base}/health/ready`)
    assert.equal(response.status, 503)
    const text = await response.text()
    const report = JSON.parse(text)
    assert.deepEqual(report, {
      status: 'error',
      checks: {
        database: { status: 'ok', latency_ms: report.checks.database.latency_ms },
        redis: { status: 'error', latency_ms: report.checks.redis.latency_ms },
      },
    })
    // Names and states only: no driver message, host, port or credential.
    for (const leak of [redisPort, '127.0.0.1', 'localhost', 'ECONNREFUSED', 'postgres']) {
      assert.notInclude(text, leak)
    }

    const live = await fetch(`${base}/health/live`)
    assert.equal(live.status, 200)

    // The per-user and per-tenant API limits live in Redis but do not turn
    // its outage into an API outage: reads are still served.
    const tenant = await givenTenant()
    const products = await fetch(`${base}/api/products/`, {
      headers: { authorization: `Bearer ${tenant.owner.token}` },
    })
    assert.equal(products.status, 200)
  }).timeout(60_000)

  test('answers 503 when PostgreSQL is down, for readiness and for API requests', async ({
    assert,
    cleanup,
  }) => {
    const base = await startServer({ DB_PORT: String(await freePort()) }, cleanup)

    const ready = await fetch(`${base}/health/ready`)
    assert.equal(ready.status, 503)
    const text = await ready.text()
    const report = JSON.parse(text)
    assert.equal(report.checks.database.status, 'error')
    assert.equal(report.checks.redis.status, 'ok')
    assert.notProperty(report.checks.database, 'message')
    for (const leak of ['127.0.0.1', 'ECONNREFUSED', 'postgres']) {
      assert.notInclude(text, leak)
    }

    const token = await signAccessToken({
      userId: 1,
      tenantId: 1,
      role: 'owner',
      sessionId: '00000000-0000-4000-8000-000000000000',
    })
    const products = await fetch(`${base}/api/products/`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(products.status, 503)
    const body = (await products.json()) as any
    assert.equal(body.errors[0].code, 'E_SERVICE_UNAVAILABLE')
  }).timeout(60_000)
})
