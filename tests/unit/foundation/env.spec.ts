import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'

/**
 * Boots the real server entrypoint with a given environment and no .env
 * file, and returns how it ended.
 */
function boot(env: Record<string, string | undefined>) {
  const result = spawnSync(process.execPath, ['--import', '@poppinss/ts-exec', 'bin/server.ts'], {
    cwd: app.makePath(),
    env: { PATH: process.env.PATH, ENV_PATH: mkdtempSync(join(tmpdir(), 'env-')), ...env },
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const VALID = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: '0',
  APP_KEY: 'an-app-key-of-at-least-32-characters-long',
  LOG_LEVEL: 'info',
  DB_HOST: '127.0.0.1',
  DB_PORT: '5432',
  DB_USER: 'postgres',
  DB_DATABASE: 'commerce',
  REDIS_HOST: '127.0.0.1',
  REDIS_PORT: '6379',
  JWT_SECRET: 'a-jwt-secret-of-at-least-32-bytes-long!!',
}

test.group('Environment validation', () => {
  test('a missing variable stops the process naming it', ({ assert }) => {
    const { status, output } = boot({ ...VALID, DB_HOST: undefined })
    assert.notEqual(status, 0)
    assert.include(output, 'DB_HOST')
  })

  test('a malformed variable stops the process naming it', ({ assert }) => {
    const { status, output } = boot({ ...VALID, REDIS_PORT: 'not-a-port' })
    assert.notEqual(status, 0)
    assert.include(output, 'REDIS_PORT')
  })

  test('a short JWT secret stops the process', ({ assert }) => {
    const { status, output } = boot({ ...VALID, JWT_SECRET: 'short' })
    assert.notEqual(status, 0)
    assert.include(output, 'JWT_SECRET')
  })
})
