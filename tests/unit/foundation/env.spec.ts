import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { PUBLISHED_SECRETS, SECRET_NAMES, secretProblem } from '#start/secrets'
import { applyExampleDefaults } from '#start/env'

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

test.group('Defaults of .env.example in development', () => {
  function project(files: Record<string, string>) {
    const root = mkdtempSync(join(tmpdir(), 'env-defaults-'))
    for (const [name, contents] of Object.entries(files)) writeFileSync(join(root, name), contents)
    return `${root}/`
  }

  const EXAMPLE = 'NODE_ENV=development\nDB_HOST=127.0.0.1\nDB_DATABASE=commerce\nPORT=3333\n'

  test('without a .env, the example fills what nothing else sets', async ({ assert }) => {
    const root = project({ '.env.example': EXAMPLE })
    const environment: NodeJS.ProcessEnv = { PORT: '4000' }
    const applied = await applyExampleDefaults(root, environment)
    assert.sameMembers(applied, ['NODE_ENV', 'DB_HOST', 'DB_DATABASE'])
    assert.deepEqual(environment, {
      PORT: '4000',
      NODE_ENV: 'development',
      DB_HOST: '127.0.0.1',
      DB_DATABASE: 'commerce',
    })
  })

  test('a value of another env file wins over the example', async ({ assert }) => {
    // .env.local is read in development (the test process runs with NODE_ENV=test,
    // which reads .env.test instead: the loader's file list follows process.env).
    const local = process.env.NODE_ENV === 'test' ? '.env.test' : '.env.local'
    const root = project({ '.env.example': EXAMPLE, [local]: 'DB_DATABASE=mine\n' })
    const environment: NodeJS.ProcessEnv = { NODE_ENV: 'development' }
    await applyExampleDefaults(root, environment)
    assert.isUndefined(environment.DB_DATABASE)
    assert.equal(environment.DB_HOST, '127.0.0.1')
  })

  test('a .env turns the fallback off', async ({ assert }) => {
    const root = project({ '.env.example': EXAMPLE, '.env': 'PORT=5000\n' })
    const environment: NodeJS.ProcessEnv = {}
    assert.deepEqual(await applyExampleDefaults(root, environment), [])
    assert.deepEqual(environment, {})
  })

  test('never in production or tests', async ({ assert }) => {
    const root = project({ '.env.example': EXAMPLE })
    for (const nodeEnv of ['production', 'test']) {
      const environment: NodeJS.ProcessEnv = { NODE_ENV: nodeEnv }
      assert.deepEqual(await applyExampleDefaults(root, environment), [])
      assert.deepEqual(environment, { NODE_ENV: nodeEnv })
    }
  })

  test('production with a .env.example and no .env still stops on a missing variable', ({
    assert,
  }) => {
    // The real entrypoint, reading a directory that holds the project's .env.example only.
    const envPath = mkdtempSync(join(tmpdir(), 'env-'))
    copyFileSync(app.makePath('.env.example'), join(envPath, '.env.example'))
    const { status, output } = boot({ ...VALID, DB_HOST: undefined, ENV_PATH: envPath })
    assert.notEqual(status, 0)
    assert.include(output, 'DB_HOST')
  })
})
