import db from '@adonisjs/lucid/services/db'
import redis from '@adonisjs/redis/services/main'

export interface CheckReport {
  status: 'ok' | 'error'
  latency_ms: number
  message?: string
}

const TIMEOUT_MS = 2_000

async function check(probe: () => Promise<unknown>): Promise<CheckReport> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS)
      }),
    ])
    return { status: 'ok', latency_ms: Math.round(performance.now() - started) }
  } catch (error) {
    return {
      status: 'error',
      latency_ms: Math.round(performance.now() - started),
      message: error instanceof Error ? error.message : String(error),
    }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Asks PostgreSQL and Redis, in parallel, whether they answer.
 */
export async function readiness() {
  const [database, cache] = await Promise.all([
    check(() => db.rawQuery('select 1')),
    check(() => redis.ping()),
  ])
  const status = database.status === 'ok' && cache.status === 'ok' ? 'ok' : 'error'
  return { status, checks: { database, redis: cache } }
}
