import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { queue } from '#queue/queues'
import { QUEUE_NAMES } from '#queue/jobs'
import { DURATION_BUCKETS, readWithin, registerPoolMetrics } from '#metrics/common'
import { platformStats } from '#metrics/platform_stats'

/**
 * The API process's metrics, served at GET /metrics (Prometheus text
 * format). No label is ever per tenant or per raw URL: `route` is the
 * route pattern (`/api/products/:id`), `(unmatched)` for unknown paths.
 */
export const apiRegistry = new Registry()
collectDefaultMetrics({ register: apiRegistry })

export const httpRequests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [apiRegistry],
})

export const httpDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: DURATION_BUCKETS,
  registers: [apiRegistry],
})

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * Counts one answered request.
 */
export function observeRequest(
  method: string,
  route: string | undefined,
  status: number,
  seconds: number
) {
  const labels = {
    method: METHODS.has(method) ? method : 'OTHER',
    route: route ?? '(unmatched)',
    status: String(status),
  }
  httpRequests.inc(labels)
  httpDuration.observe(labels, seconds)
}

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const

new Gauge({
  name: 'queue_jobs',
  help: 'Jobs in each BullMQ queue, by state',
  labelNames: ['queue', 'state'] as const,
  registers: [apiRegistry],
  async collect() {
    this.reset()
    await Promise.all(
      QUEUE_NAMES.map(async (name) => {
        const counts = await readWithin('queue_jobs', () =>
          queue(name).getJobCounts(...QUEUE_STATES)
        )
        if (!counts) return
        for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state] ?? 0)
      })
    )
  },
})

new Gauge({
  name: 'outbox_rows',
  help: 'Outbox rows not yet processed, summed over every tenant',
  registers: [apiRegistry],
  async collect() {
    const stats = await readWithin('outbox_rows', platformStats)
    if (stats) this.set(stats.outbox.rows)
  },
})

new Gauge({
  name: 'outbox_oldest_row_age_seconds',
  help: 'Age of the oldest outbox row of any tenant (0 when the outbox is empty)',
  registers: [apiRegistry],
  async collect() {
    const stats = await readWithin('outbox_oldest_row_age_seconds', platformStats)
    if (stats) this.set(stats.outbox.oldestAgeSeconds)
  },
})

new Gauge({
  name: 'tenants',
  help: 'Tenants, by status',
  labelNames: ['status'] as const,
  registers: [apiRegistry],
  async collect() {
    const stats = await readWithin('tenants', platformStats)
    if (!stats) return
    for (const [status, count] of Object.entries(stats.tenants)) this.set({ status }, count)
  },
})

registerPoolMetrics(apiRegistry)
