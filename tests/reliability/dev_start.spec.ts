import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import env from '#start/env'
import { freePort } from '#tests/support/processes'
import { eventually } from '#tests/support/orders'

/**
 * The two-command start of a fresh clone: `npm ci`, then `npm run dev`
 * with no .env (a fresh clone has none; the defaults of .env.example
 * apply) against a PostgreSQL that does not have the database yet. Only
 * the variables that keep this run apart from the others on the machine
 * are given: database name, port, Redis DB and queue prefix.
 */
const DATABASE = `${env.get('DB_DATABASE')}_dev`

async function adminQuery(sql: string, bindings: unknown[] = [], database = 'postgres') {
  const client = new pg.Client({
    host: env.get('DB_HOST'),
    port: env.get('DB_PORT'),
    user: env.get('DB_USER'),
    password: env.get('DB_PASSWORD'),
    database,
  })
  await client.connect()
  try {
    return await client.query(sql, bindings)
  } finally {
    await client.end()
  }
}

test.group('npm run dev on a fresh clone', () => {
  test('brings the API and the worker up with no .env, creating the database', async ({
    assert,
    cleanup,
  }) => {
    // A checkout with a .env of its own (a developer's): read the settings
    // from a directory holding only .env.example instead, as a fresh clone.
    const envPath = existsSync(app.makePath('.env'))
      ? mkdtempSync(join(tmpdir(), 'fresh-clone-'))
      : undefined
    if (envPath) copyFileSync(app.makePath('.env.example'), join(envPath, '.env.example'))
    await adminQuery(`drop database if exists "${DATABASE}" with (force)`)
    const port = await freePort()
    const child = spawn(process.execPath, ['bin/dev.js'], {
      cwd: app.makePath(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DB_DATABASE: DATABASE,
        PORT: String(port),
        REDIS_DB: String(env.get('REDIS_DB') ?? 0),
        QUEUE_PREFIX: `${env.get('QUEUE_PREFIX') ?? 'commerce'}-dev`,
        WORKER_METRICS_PORT: String(await freePort()),
        ...(envPath && { ENV_PATH: envPath }),
      },
    })
    let output = ''
    child.stdout!.on('data', (chunk) => (output += chunk))
    child.stderr!.on('data', (chunk) => (output += chunk))
    cleanup(async () => {
      // The whole group: dev.js, `ace serve`, the server it runs, the worker.
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
      await adminQuery(`drop database if exists "${DATABASE}" with (force)`)
      // and the runtime role `npm run dev` created for it: no role is left behind
      await adminQuery(`drop role if exists "${DATABASE}_runtime"`)
    })

    let ready = false
    const deadline = Date.now() + 170_000
    while (Date.now() < deadline && child.exitCode === null) {
      const answer = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null)
      if (answer?.status === 200 && output.includes('worker started')) {
        ready = true
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    assert.isTrue(ready, `npm run dev did not bring the API and the worker up:\n${output}`)
    assert.include(output, `Created database ${DATABASE}`)

    const created = await adminQuery(`select 1 from pg_database where datname = $1`, [DATABASE])
    assert.equal(created.rowCount, 1)
    const migrated = await adminQuery(
      `select to_regclass('public.tenants') as tenants`,
      [],
      DATABASE
    )
    assert.equal(migrated.rows[0].tenants, 'tenants')
    const live = await fetch(`http://127.0.0.1:${port}/health/live`)
    assert.equal(live.status, 200)

    // SIGTERM to npm run dev stops every process it started.
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
    const groupAlive = () => {
      try {
        process.kill(-child.pid!, 0)
        return true
      } catch {
        return false
      }
    }
    await eventually(async () => !groupAlive(), {
      timeoutMs: 30_000,
      message: 'every process of npm run dev to exit',
    })
  }).timeout(200_000)
})
