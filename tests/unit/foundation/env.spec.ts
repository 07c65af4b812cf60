import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { PUBLISHED_SECRETS, SECRET_NAMES, secretProblem } from '#start/secrets'

/**
 * Boots the real server entrypoint with a given environment and no .env
 * file, and returns how it ended.
 */
function boot(env: Record<string, string | undefined>, entrypoint = ['bin/server.ts']) {
  const result = spawnSync(process.execPath, ['--import', '@poppinss/ts-exec', ...entrypoint], {
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
  APP_KEY: randomBytes(32).toString('base64url'),
  LOG_LEVEL: 'info',
  DB_HOST: '127.0.0.1',
  DB_PORT: '5432',
  DB_USER: 'postgres',
  DB_DATABASE: 'commerce',
  REDIS_HOST: '127.0.0.1',
  REDIS_PORT: '6379',
  JWT_SECRET: randomBytes(32).toString('base64url'),
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

  test('a short APP_KEY stops the process, the same as a short JWT secret', ({ assert }) => {
    const { status, output } = boot({ ...VALID, APP_KEY: 'x'.repeat(31) })
    assert.notEqual(status, 0)
    assert.include(output, 'APP_KEY')
  })
})

/**
 * In production a weak secret is refused by every entrypoint with one
 * line naming the variable and how to generate a good one.
 */
test.group('Environment validation / production secrets', () => {
  const ENTRYPOINTS = {
    'the API': ['bin/server.ts'],
    'the worker': ['ace.js', 'queue:work'],
    'an ace command that starts the app': ['ace.js', 'tenants:list'],
    'an ace command that does not': ['ace.js', 'list'],
  }

  for (const [who, entrypoint] of Object.entries(ENTRYPOINTS)) {
    test(`${who} refuses a short or a published APP_KEY and JWT_SECRET`, ({ assert }) => {
      for (const [name, value] of [
        ['APP_KEY', 'short-app-key'],
        ['JWT_SECRET', 'x'.repeat(31)],
        ['APP_KEY', PUBLISHED_SECRETS[0]],
        ['JWT_SECRET', PUBLISHED_SECRETS[3]],
      ]) {
        const { status, output } = boot({ ...VALID, [name]: value }, entrypoint)
        assert.notEqual(status, 0, `${name}=${value}`)
        const lines = output.trim().split('\n')
        assert.lengthOf(lines, 1, output)
        assert.include(lines[0], `"${name}"`)
        assert.include(lines[0], 'node ace generate:key')
      }
    }).timeout(120_000)
  }

  test('every published value is refused, read from the environment or from <NAME>_FILE', ({
    assert,
  }) => {
    for (const value of PUBLISHED_SECRETS) {
      for (const name of SECRET_NAMES) {
        assert.isNotNull(secretProblem(name, value, 'production'), value)
        assert.isNull(secretProblem(name, value, 'development'), value)
      }
    }
    const file = join(mkdtempSync(join(tmpdir(), 'secret-')), 'jwt_secret')
    writeFileSync(file, `${PUBLISHED_SECRETS[1]}\n`)
    const { status, output } = boot({ ...VALID, JWT_SECRET: undefined, JWT_SECRET_FILE: file })
    assert.notEqual(status, 0)
    assert.include(output, '"JWT_SECRET"')

    const missing = boot({ ...VALID, APP_KEY: undefined, APP_KEY_FILE: `${file}.missing` })
    assert.notEqual(missing.status, 0)
    assert.include(missing.output, 'APP_KEY_FILE')
  }).timeout(60_000)
})
