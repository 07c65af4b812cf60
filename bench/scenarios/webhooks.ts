import { createServer, type Server } from 'node:http'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { orderTenants } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import {
  databaseNow,
  orderCounts,
  request,
  roundRobinOrders,
  unavailable,
  waitUntilSettled,
} from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { percentile, waitFor } from '../lib/stats.ts'
import type { SeedTenant } from '../lib/seed.ts'
import { drain } from '../floors/queue.ts'

const METRICS: Array<[string, string?]> = [
  ['commit → receiver p50'],
  ['commit → receiver p99', '≤ 500 ms at 200 events/s'],
  ['sustained deliveries/s', '≥ 50 % of floor'],
]

/**
 * The floor's concurrency: fixed by its definition (the application's
 * WEBHOOK_CONCURRENCY default when the floor was introduced), so its
 * figures compare across runs.
 */
const DELIVERY_CONCURRENCY = 32

/**
 * Sockets of the steady load (lib/load.ts paces it: one request every
 * 1/rate s). They bound the requests in flight, so they must cover the
 * rate times an answer's time on a busy machine: 100 hold 200/s up to
 * 500 ms per answer (a request due while all are busy waits for one, and
 * that wait counts in its latency).
 */
const STEADY_CONNECTIONS = 100

interface Receiver {
  url: string
  arrivals: { at: number; createdAt: number; type: string }[]
  server: Server
}

/**
 * One receiver per tenant on loopback, answering 204 at once and noting
 * when each event arrived.
 */
async function startReceiver(): Promise<Receiver> {
  const arrivals: Receiver['arrivals'] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const at = Date.now()
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        arrivals.push({ at, createdAt: Date.parse(body.created_at), type: body.type })
      } catch {}
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/hooks`, arrivals, server }
}

async function subscribe(ctx: BenchContext, tenant: SeedTenant, url: string, events: string[]) {
  return request(ctx, 'POST', '/api/webhooks/', tenant.owner.token, { url, events })
}

/**
 * webhooks: one receiver per tenant across the 20 order tenants.
 * - Latency: orders placed at 200/s (the worker confirming them), every
 *   tenant subscribed to `order.confirmed`; time from the event's
 *   `created_at` (set in the confirming transaction, just before its
 *   COMMIT) to its arrival at the receiver. Target p99 ≤ 500 ms.
 * - Sustained: with the worker stopped, a backlog of pings; the worker
 *   started, deliveries per second from the first to the last arrival.
 *   Floor: a bare BullMQ worker (same concurrency) doing one `fetch` per
 *   job to the same receivers. Target ≥ 50 % of the floor.
 */
export const webhooks: Scenario = {
  name: 'webhooks',
  needs: { api: true, worker: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const tenants = await orderTenants(ctx)
    if (!ctx.worker.available) {
      return blocked('webhooks', METRICS, {
        reason: ctx.worker.reason ?? 'worker not available',
        missing: true,
      })
    }
    const receivers: Receiver[] = []
    try {
      while (receivers.length < tenants.length) receivers.push(await startReceiver())
      const endpoints: number[] = []
      for (const [index, tenant] of tenants.entries()) {
        const answer = await subscribe(ctx, tenant, receivers[index].url, ['order.confirmed'])
        const problem = unavailable('POST /api/webhooks/', answer, 201)
        if (problem) return blocked('webhooks', METRICS, problem)
        endpoints.push(answer.json.id)
      }
      const ids = tenants.map((tenant) => tenant.id)
      if (!ctx.worker.running) await ctx.worker.start()
      await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
      for (const receiver of receivers) receiver.arrivals.length = 0

      // Latency at a steady 200 orders/s, hence 200 order.confirmed events/s.
      // Only the events of the orders placed in this phase count (an event
      // of an earlier order still in flight has an earlier created_at).
      const steadyFrom = Date.now()
      const steadySince = await databaseNow(ctx)
      const steady = await load({
        url: ctx.api!.url,
        path: '/api/orders/',
        method: 'POST',
        expect: (status) => status === 202,
        setupRequest: roundRobinOrders(tenants),
        connections: STEADY_CONNECTIONS,
        overallRate: ctx.sizes.pipelineRate,
        duration: ctx.sizes.pipelineSeconds,
      })
      const settled = await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
      const steadyCounts = await orderCounts(ctx, ids, steadySince)
      const confirmed = steadyCounts.confirmed ?? 0
      const steadyArrivals = () =>
        receivers.flatMap((receiver) =>
          receiver.arrivals.filter(
            (arrival) => arrival.type === 'order.confirmed' && arrival.createdAt >= steadyFrom
          )
        )
      const arrived = () => receivers.reduce((sum, r) => sum + r.arrivals.length, 0)
      await waitFor(async () => steadyArrivals().length >= confirmed, {
        timeoutMs: ctx.sizes.settleSeconds * 1000,
      })
      const latencies = steadyArrivals().map((arrival) => arrival.at - arrival.createdAt)
      const steadyNote = [
        `${steady.served} orders at ${steady.rps.toFixed(0)}/s (answer p50 ${steady.p50?.toFixed(0)} ms, p99 ${steady.p99?.toFixed(0)} ms)`,
        `${latencies.length} of ${confirmed} order.confirmed events delivered`,
        anomalies(steady, (status) => status === 202),
        !settled && 'orders still pending',
      ]
        .filter(Boolean)
        .join('; ')

      // Sustained: a backlog of pings drained by a freshly started worker.
      await ctx.worker.stop()
      for (const receiver of receivers) receiver.arrivals.length = 0
      let next = 0
      const backlog = await load({
        url: ctx.api!.url,
        path: '/api/webhooks/',
        method: 'POST',
        expect: (status) => status === 202,
        connections: ctx.sizes.connections,
        amount: ctx.sizes.queueTransactionJobs,
        setupRequest: (req) => {
          const index = next++ % tenants.length
          req.path = `/api/webhooks/${endpoints[index]}/ping/`
          req.headers = { ...req.headers, authorization: `Bearer ${tenants[index].owner.token}` }
          return req
        },
      })
      await ctx.worker.start()
      const drained = await waitFor(async () => arrived() >= backlog.served, {
        timeoutMs: ctx.sizes.settleSeconds * 1000,
      })
      const times = receivers.flatMap((receiver) => receiver.arrivals.map((arrival) => arrival.at))
      const span = (Math.max(...times) - Math.min(...times)) / 1000
      const sustained = times.length > 1 && span > 0 ? times.length / span : null

      // Floor: a bare BullMQ worker, one fetch per job, to the same receivers.
      let floor: number | null = null
      let floorError: string | undefined
      try {
        let turn = 0
        floor = await drain(
          ctx,
          'fetch',
          ctx.sizes.queueTransactionJobs,
          () => ({ url: receivers[turn++ % receivers.length].url }),
          DELIVERY_CONCURRENCY
        )
        ctx.log(`webhook floor: ${Math.round(floor)} fetch jobs/s`)
      } catch (error) {
        floorError = (error as Error).message.slice(0, 200)
      }

      return [
        compared({
          scenario: 'webhooks',
          metric: 'commit → receiver p50',
          value: percentile(latencies, 50),
          unit: 'ms',
          note: steadyNote,
        }),
        compared(
          {
            scenario: 'webhooks',
            metric: 'commit → receiver p99',
            value: percentile(latencies, 99),
            unit: 'ms',
            target: '≤ 500 ms at 200 events/s',
          },
          { absoluteMax: 500 }
        ),
        compared(
          {
            scenario: 'webhooks',
            metric: 'sustained deliveries/s',
            value: sustained,
            unit: 'deliveries/s',
            floor,
            floorName: `queue floor, 1 fetch/job (concurrency ${DELIVERY_CONCURRENCY})`,
            target: '≥ 50 % of floor',
            note:
              [
                `backlog of ${backlog.served} pings across ${tenants.length} tenants`,
                anomalies(backlog, (status) => status === 202),
                !drained && 'backlog not delivered in time',
                floorError && `floor: ${floorError}`,
              ]
                .filter(Boolean)
                .join('; ') || undefined,
          },
          { atLeast: 0.5 }
        ),
      ]
    } finally {
      // Stop deliveries to receivers that are about to close.
      for (const tenant of tenants) {
        const list = await request(ctx, 'GET', '/api/webhooks/', tenant.owner.token)
        for (const endpoint of list.json?.data ?? []) {
          await request(ctx, 'DELETE', `/api/webhooks/${endpoint.id}/`, tenant.owner.token)
        }
      }
      await Promise.all(
        receivers.map((receiver) => new Promise((resolve) => receiver.server.close(resolve)))
      )
    }
  },
}
