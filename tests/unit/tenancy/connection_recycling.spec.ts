import { setTimeout as sleep } from 'node:timers/promises'
import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type { PostgreConfig } from '@adonisjs/lucid/types/database'

/**
 * Pooled connections are recycled after a bounded lifetime (knex
 * `maxConnectionLifetimeMillis` + jitter, config/database.ts), so no
 * backend keeps the catalog cache of thousands of tenant schemas forever.
 *
 * The application's settings are checked as configured; the behaviour is
 * proven on a one-connection pool built from the same configuration with a
 * short lifetime, watching the backend pid.
 */
type RecyclingPool = NonNullable<PostgreConfig['pool']> & {
  maxConnectionLifetimeMillis?: number
  maxConnectionLifetimeJitterMillis?: number
}

let counter = 0

function appConfig(): PostgreConfig {
  return db.getRawConnection(db.primaryConnectionName)!.config as PostgreConfig
}

async function withPool<T>(lifetimeMs: number, fn: (name: string) => Promise<T>): Promise<T> {
  const name = `recycling_${process.pid}_${++counter}`
  const base = appConfig()
  const pool: RecyclingPool = {
    ...base.pool,
    min: 0,
    max: 1,
    idleTimeoutMillis: 60_000,
    maxConnectionLifetimeMillis: lifetimeMs,
    maxConnectionLifetimeJitterMillis: 0,
  }
  db.manager.add(name, { ...base, pool })
  db.manager.connect(name)
  try {
    return await fn(name)
  } finally {
    await db.manager.close(name, true)
  }
}

async function backendPid(connection: string): Promise<number> {
  const { rows } = await db.connection(connection).rawQuery('select pg_backend_pid() as pid')
  return rows[0].pid
}

async function backendAlive(pid: number): Promise<boolean> {
  const { rows } = await db.rawQuery('select 1 from pg_stat_activity where pid = ?', [pid])
  return rows.length === 1
}

test.group('Connection recycling', () => {
  test('the application pool recycles connections after a jittered lifetime', ({ assert }) => {
    const pool = appConfig().pool as RecyclingPool
    assert.isAbove(pool.maxConnectionLifetimeMillis!, 0)
    assert.isAbove(pool.maxConnectionLifetimeJitterMillis!, 0)
  })

  test('within its lifetime a pooled connection is reused', async ({ assert }) => {
    await withPool(600_000, async (name) => {
      const first = await backendPid(name)
      for (let query = 0; query < 5; query++) {
        assert.equal(await backendPid(name), first)
      }
    })
  })

  test('after its lifetime a pooled connection is replaced and its backend ends', async ({
    assert,
  }) => {
    const lifetimeMs = 300
    await withPool(lifetimeMs, async (name) => {
      const first = await backendPid(name)
      assert.isTrue(await backendAlive(first))

      await sleep(lifetimeMs + 200)
      const second = await backendPid(name)
      assert.notEqual(second, first)

      // The expired connection is closed by the pool (asynchronously).
      let alive = true
      for (let attempt = 0; attempt < 100 && alive; attempt++) {
        alive = await backendAlive(first)
        if (alive) await sleep(50)
      }
      assert.isFalse(alive)
    })
  })
})
