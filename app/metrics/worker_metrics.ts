import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'
import { DURATION_BUCKETS, registerPoolMetrics, scrapeAllowed } from '#metrics/common'

/**
 * A worker process's metrics, served at /metrics on WORKER_METRICS_PORT.
 * Never a label per tenant: per-tenant figures are in the job log lines.
 */
export const workerRegistry = new Registry()
collectDefaultMetrics({ register: workerRegistry })

/**
 * Job runs, by queue, job name and outcome: the handler's result
 * (`confirmed`, `rejected`, `skipped`, `restored`, `applied`), `retry` (a
 * transient failure, tried again later) or `failed` (its last attempt, or
 * a permanent failure).
 */
export const jobRuns = new Counter({
  name: 'worker_jobs_total',
  help: 'Job runs, by queue, job and outcome',
  labelNames: ['queue', 'job', 'outcome'] as const,
  registers: [workerRegistry],
})

export const jobDuration = new Histogram({
  name: 'worker_job_duration_seconds',
  help: 'Time a job run took, by queue, job and outcome',
  labelNames: ['queue', 'job', 'outcome'] as const,
  buckets: DURATION_BUCKETS,
  registers: [workerRegistry],
})

/**
 * Webhook delivery attempts, by outcome. Outcomes: `delivered` (a 2xx in
 * time), `retry` (failed, tried again later), `failed` (given up),
 * `refused` (the URL resolved to an address that is not allowed). The
 * webhook deliverer increments it: `webhookDeliveries.inc({ outcome })`.
 */
export const WEBHOOK_OUTCOMES = ['delivered', 'retry', 'failed', 'refused'] as const
export const webhookDeliveries = new Counter({
  name: 'webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome',
  labelNames: ['outcome'] as const,
  registers: [workerRegistry],
})

registerPoolMetrics(workerRegistry)

export function observeJob(queue: string, job: string, outcome: string, seconds: number) {
  jobRuns.inc({ queue, job, outcome })
  jobDuration.observe({ queue, job, outcome }, seconds)
}

/**
 * Serves /metrics (and only that) on the given port; with METRICS_TOKEN
 * set, a scrape without the bearer token answers 401 in the API's error
 * shape.
 */
export async function serveWorkerMetrics(port: number, host: string): Promise<Server> {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/'
    const reply = (status: number, code: string, message: string) => {
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      response.end(JSON.stringify({ errors: [{ message, code }] }))
    }
    if (path !== '/metrics') return reply(404, 'E_ROUTE_NOT_FOUND', 'Route not found')
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return reply(404, 'E_ROUTE_NOT_FOUND', 'Route not found')
    }
    if (!scrapeAllowed(request.headers.authorization)) {
      response.setHeader('www-authenticate', 'Bearer')
      return reply(401, 'E_UNAUTHORIZED_ACCESS', 'A valid metrics token is required')
    }
    try {
      const body = await workerRegistry.metrics()
      response.writeHead(200, { 'content-type': workerRegistry.contentType })
      response.end(request.method === 'HEAD' ? undefined : body)
    } catch {
      reply(500, 'E_INTERNAL_SERVER_ERROR', 'Internal server error')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return server
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port
}
