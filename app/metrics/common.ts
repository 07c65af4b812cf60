import { timingSafeEqual } from 'node:crypto'
import db from '@adonisjs/lucid/services/db'
import { Gauge, type Registry } from 'prom-client'
import metricsConfig from '#config/metrics'
import { currentLogger } from '#logging/log_context'

/**
 * Pieces shared by the API's and the worker's metrics.
 */

/**
 * Whether a scrape may read the metrics: always when METRICS_TOKEN is not
 * set, else only with `Authorization: Bearer <METRICS_TOKEN>` (compared in
 * constant time).
 */
export function scrapeAllowed(authorization: string | undefined | null): boolean {
  const token = metricsConfig.token
  if (!token) return true
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '')
  if (!match) return false
  const given = Buffer.from(match[1].trim())
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * A value read at scrape time that gives up after `ms`: a slow or dead
 * dependency leaves that metric out of the scrape instead of hanging it.
 */
export async function readWithin<T>(what: string, read: () => Promise<T>, ms = 2_000) {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
      }),
    ])
  } catch (error) {
    currentLogger().warn({ err: error, metric: what }, 'a metric could not be read')
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The shared pool of this process (knex's tarn pool): connections in use
 * and idle, and the requests waiting for one.
 */
export function registerPoolMetrics(registry: Registry) {
  const pool = () => db.manager.get(db.primaryConnectionName)?.connection?.pool ?? null
  new Gauge({
    name: 'db_pool_connections',
    help: 'Connections of the shared PostgreSQL pool, by state (in_use, idle)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const current = pool()
      this.set({ state: 'in_use' }, current?.numUsed() ?? 0)
      this.set({ state: 'idle' }, current?.numFree() ?? 0)
    },
  })
  new Gauge({
    name: 'db_pool_waiting_requests',
    help: 'Queries waiting for a connection of the shared PostgreSQL pool',
    registers: [registry],
    collect() {
      this.set(pool()?.numPendingAcquires() ?? 0)
    },
  })
}

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
