import { timingSafeEqual } from 'node:crypto'
import { Counter, Gauge, type Registry } from 'prom-client'
import metricsConfig from '#config/metrics'
import { currentLogger } from '#logging/log_context'
import { runtimePoolUsage } from '#tenancy/pool_slices'

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
 * The shared pool of this process (knex's tarn pools, one per slice of
 * the runtime pool, added up: app/tenancy/pool_slices.ts): connections in
 * use and idle, the requests waiting for one, and the transactions that
 * ran on another slice than their tenant's home slice.
 */
export function registerPoolMetrics(registry: Registry) {
  new Gauge({
    name: 'db_pool_connections',
    help: 'Connections of the shared PostgreSQL pool, by state (in_use, idle)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const usage = runtimePoolUsage()
      this.set({ state: 'in_use' }, usage.inUse)
      this.set({ state: 'idle' }, usage.idle)
    },
  })
  new Gauge({
    name: 'db_pool_waiting_requests',
    help: 'Queries waiting for a connection of the shared PostgreSQL pool',
    registers: [registry],
    collect() {
      this.set(runtimePoolUsage().waiting)
    },
  })
  totalCounter(
    registry,
    'db_pool_borrowed_transactions_total',
    "Tenant transactions run on another slice of the shared pool than the tenant's home slice",
    () => runtimePoolUsage().borrowed
  )
  totalCounter(
    registry,
    'db_pool_retired_connections_total',
    'Connections of the shared pool retired after serving DB_CONNECTION_MAX_TENANTS distinct tenants',
    () => runtimePoolUsage().retired
  )
}

/**
 * A counter that mirrors a running total this process keeps elsewhere:
 * each scrape adds what the total grew by since the last one.
 */
function totalCounter(registry: Registry, name: string, help: string, total: () => number) {
  let counted = 0
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = total()
      this.inc(now - counted)
      counted = now
    },
  })
}

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
