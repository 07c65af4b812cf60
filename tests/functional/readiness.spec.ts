import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import env from '#start/env'
import { databaseName } from '#config/database'

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

test.group('Readiness', () => {
  test('answers 503 with a per-check report when Redis is down', async ({ assert, cleanup }) => {
    const [port, deadRedisPort] = await Promise.all([freePort(), freePort()])
    const server = spawn(process.execPath, ['--import', '@poppinss/ts-exec', 'bin/server.ts'], {
      cwd: app.makePath(),
      env: {
        ...process.env,
        NODE_ENV: 'development',
        ENV_PATH: 'tmp/no-env',
        HOST: '127.0.0.1',
        PORT: String(port),
        DB_DATABASE: databaseName,
        REDIS_PORT: String(deadRedisPort),
        LOG_LEVEL: 'silent',
        APP_KEY: env.get('APP_KEY').release(),
        JWT_SECRET: env.get('JWT_SECRET').release(),
      },
      stdio: 'ignore',
    })
    cleanup(() => {
      server.kill('SIGKILL')
    })

    const response = await waitForReady(
      `http://127.0.0.1:${port}/health/ready`,
      Date.now() + 30_000
    )
    assert.equal(response.status, 503)
    const report = (await response.json()) as any
    assert.equal(report.status, 'error')
    assert.equal(report.checks.database.status, 'ok')
    assert.equal(report.checks.redis.status, 'error')
    assert.isString(report.checks.redis.message)

    const live = await fetch(`http://127.0.0.1:${port}/health/live`)
    assert.equal(live.status, 200)
  }).timeout(60_000)
})
