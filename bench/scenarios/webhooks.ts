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

const LATENCY_TARGET = '≤ 500 ms at 200 events/s'

/**
 * The two steady phases, each 200 events/s to the receivers while the
 * worker confirms orders: every tenant subscribed to the events of an
 * order's placement and confirmation at 100 orders/s, then to its
 * confirmation alone at 200 orders/s (twice the orders for the same
 * events: the API and the worker have twice the work).
 */
const PHASES = [
  { label: '100 orders/s, created + confirmed', events: ['order.created', 'order.confirmed'] },
  { label: '200 orders/s, confirmed', events: ['order.confirmed'] },
] as const

const METRICS: Array<[string, string?]> = [
  ...PHASES.flatMap(({ label }): Array<[string, string?]> => [
    [`commit → receiver p50, ${label}`],
    [`commit → receiver p99, ${label}`, LATENCY_TARGET],
  ]),
  ['sustained deliveries/s', '≥ 50 % of floor'],
]

/** Events per second in each steady phase. */
const EVENT_RATE = 200

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

interface Arrival {
  at: number
  /** the event's `created_at` (set in the transaction that made the change, just before COMMIT) */
  createdAt: number
  type: string
  /** the order's `created_at` (the payload's resource), when it is an order */
  orderCreatedAt: number
}

interface Receiver {
  url: string
  arrivals: Arrival[]
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
        arrivals.push({
          at,
          createdAt: Date.parse(body.created_at),
          type: body.type,
          orderCreatedAt: Date.parse(body.data?.created_at),
        })
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

interface PhaseResult {
  latencies: number[]
  note: string
}

/**
 * One steady phase: each tenant's endpoint subscribed to `events`, orders
 * placed at EVENT_RATE / events.length per second for the warm-up
 * (`warmUpSeconds`, not counted), then for the phase's duration; the latency of each event
 * of an order placed in the measured part (whenever the event was
 * committed), from its `created_at` to its arrival.
 */
async function steadyPhase(
  ctx: BenchContext,
  tenants: SeedTenant[],
  receivers: Receiver[],
  endpoints: number[],
  events: readonly string[]
): Promise<PhaseResult | { problem: NonNullable<ReturnType<typeof unavailable>> }> {
  for (const [index, tenant] of tenants.entries()) {
    const answer = await request(
      ctx,
      'PATCH',
      `/api/webhooks/${endpoints[index]}/`,
      tenant.owner.token,
      { events }
    )
    const problem = unavailable('PATCH /api/webhooks/:id/', answer, 200)
    if (problem) return { problem }
  }
  const ids = tenants.map((tenant) => tenant.id)
  await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
  const orderRate = EVENT_RATE / events.length
  const orders = {
    url: ctx.api!.url,
    path: '/api/orders/',
    method: 'POST' as const,
    expect: (status: number) => status === 202,
    setupRequest: roundRobinOrders(tenants),
    connections: STEADY_CONNECTIONS,
    overallRate: orderRate,
  }
  await load({ ...orders, duration: ctx.sizes.warmUpSeconds })
  const since = await databaseNow(ctx)
  const steady = await load({ ...orders, duration: ctx.sizes.pipelineSeconds })
  const settled = await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
  const counts = await orderCounts(ctx, ids, since)
  const placed = Object.values(counts).reduce((sum, n) => sum + n, 0)
  const expected = events
    .map((type) => (type === 'order.created' ? placed : (counts.confirmed ?? 0)))
    .reduce((sum, n) => sum + n, 0)
  const measured = () =>
    receivers.flatMap((receiver) =>
      receiver.arrivals.filter(
        (arrival) => events.includes(arrival.type) && arrival.orderCreatedAt >= since.getTime()
      )
    )
  await waitFor(async () => measured().length >= expected, {
    timeoutMs: ctx.sizes.settleSeconds * 1000,
  })
  const arrivals = measured()
  for (const receiver of receivers) receiver.arrivals.length = 0
  const perType = events.map((type) => {
    const of = arrivals.filter((arrival) => arrival.type === type)
    const p99 = percentile(
      of.map((arrival) => arrival.at - arrival.createdAt),
      99
    )
    return `${type} ${of.length}, p99 ${p99?.toFixed(0)} ms`
  })
  const note = [
    `${steady.served} orders at ${steady.rps.toFixed(0)}/s after ${ctx.sizes.warmUpSeconds} s of warm-up (answer p50 ${steady.p50?.toFixed(0)} ms, p99 ${steady.p99?.toFixed(0)} ms)`,
    `${arrivals.length} of ${expected} events delivered (${perType.join('; ')})`,
    anomalies(steady, (status) => status === 202),
    !settled && 'orders still pending',
  ]
    .filter(Boolean)
    .join('; ')
  return { latencies: arrivals.map((arrival) => arrival.at - arrival.createdAt), note }
}

/**
 * webhooks: one receiver per tenant across the 20 order tenants.
 * - Latency: 200 events/s in each of PHASES (the worker confirming the
 *   orders meanwhile); time from the event's `created_at` (set in the
 *   transaction that made the change, just before its COMMIT) to its
 *   arrival at the receiver. Target p99 ≤ 500 ms.
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
      if (!ctx.worker.running) await ctx.worker.start()

      const latencyRows: Row[] = []
      for (const { label, events } of PHASES) {
        const phase = await steadyPhase(ctx, tenants, receivers, endpoints, events)
        if ('problem' in phase) return blocked('webhooks', METRICS, phase.problem)
        latencyRows.push(
          compared({
            scenario: 'webhooks',
            metric: `commit → receiver p50, ${label}`,
            value: percentile(phase.latencies, 50),
            unit: 'ms',
            note: phase.note,
          }),
          compared(
            {
              scenario: 'webhooks',
              metric: `commit → receiver p99, ${label}`,
              value: percentile(phase.latencies, 99),
              unit: 'ms',
              target: LATENCY_TARGET,
            },
            { absoluteMax: 500 }
          )
        )
      }

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
      const arrived = () => receivers.reduce((sum, r) => sum + r.arrivals.length, 0)
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
        ...latencyRows,
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
