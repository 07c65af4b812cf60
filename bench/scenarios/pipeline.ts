import type { BenchContext, Scenario } from '../lib/context.ts'
import { orderTenants } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import {
  confirmationLatencies,
  confirmationRate,
  databaseNow,
  orderCounts,
  roundRobinOrders,
  ordersUnavailable,
  waitUntilSettled,
} from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { percentile } from '../lib/stats.ts'

const METRICS: Array<[string, string?]> = [
  ['confirmation p50'],
  ['confirmation p99', '≤ 100 ms at 200/s'],
  ['sustained confirmations/s', '≥ 100 % of floor'],
  ['confirmation p50 at 500/s'],
  ['confirmation p99 at 500/s', '≤ 250 ms at 500/s'],
]

/** The second steady rate, measured after the sustained rate. */
const HIGH_RATE = 500

/**
 * Where a confirmation's time goes, for the orders confirmed by their own
 * job (a batched order's job was removed): from the placement's start
 * (created_at) to the job's creation in the API's relay (BullMQ's
 * `timestamp`: the rest of the request (validation, the placement
 * statement, COMMIT), the relay's turn and its fairness round trip), then to the worker's pick-up
 * (`processedOn`: the add, the queue, the worker's fetch), then to the
 * statement that confirms it (confirmed_at: the handler's BEGIN, locks and
 * reads). One host, one clock. A note on the p99 rows, as p50/p99 in ms.
 */
async function stages(ctx: BenchContext, tenantIds: number[], since: Date): Promise<string> {
  const sql = tenantIds
    .map((id) => {
      const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(id))
      return `select ${Number(id)}::bigint as tenant_id, id,
        extract(epoch from created_at) * 1000 as created,
        extract(epoch from confirmed_at) * 1000 as confirmed
        from ${schema}.orders where status = 'confirmed' and created_at >= $1`
    })
    .join('\nunion all\n')
  const { rows } = await ctx.pool.query(sql, [since])
  const prefix = ctx.env.common.QUEUE_PREFIX
  const pipeline = ctx.redis.pipeline()
  for (const row of rows) {
    pipeline.hmget(
      `${prefix}:orders:confirm-order:${row.tenant_id}:${row.id}`,
      'timestamp',
      'processedOn'
    )
  }
  const replies = ((await pipeline.exec()) ?? []) as [Error | null, (string | null)[]][]
  const relay: number[] = []
  const wait: number[] = []
  const run: number[] = []
  replies.forEach(([error, [added, processed]], index) => {
    if (error || !added || !processed) return
    const { created, confirmed } = rows[index]
    relay.push(Number(added) - Number(created))
    wait.push(Number(processed) - Number(added))
    run.push(Number(confirmed) - Number(processed))
  })
  if (relay.length === 0) return ''
  const pair = (values: number[]) =>
    `${percentile(values, 50)?.toFixed(1)}/${percentile(values, 99)?.toFixed(1)}`
  return (
    `stages p50/p99 ms over the ${relay.length} orders confirmed by their own job: ` +
    `placement to relay ${pair(relay)}, relay to pick-up ${pair(wait)}, ` +
    `pick-up to confirmed ${pair(run)}`
  )
}

/**
 * pipeline: orders placed at a steady 200/s for 30 s across 20 tenants;
 * confirmation latency (placement → confirmed) p50/p99 from the database
 * (confirmed_at - created_at). Then the sustained rate: with the worker
 * stopped, a backlog of orders is placed, the worker started, and the rate
 * of confirmations measured from the first to the last confirmed_at.
 * Last, orders at a steady 500/s (HIGH_RATE), the same way.
 * Targets: p99 ≤ 250 ms at 200/s and at 500/s; sustained ≥ 50 % of the
 * queue floor with a transaction.
 */
export const pipeline: Scenario = {
  name: 'pipeline',
  needs: { api: true, worker: true, floors: ['queue'] },
  async run(ctx: BenchContext): Promise<Row[]> {
    const tenants = await orderTenants(ctx)
    if (!ctx.worker.available) {
      return blocked('pipeline', METRICS, {
        reason: ctx.worker.reason ?? 'worker not available',
        missing: true,
      })
    }
    const problem = await ordersUnavailable(ctx, tenants[0])
    if (problem) return blocked('pipeline', METRICS, problem)

    const ids = tenants.map((tenant) => tenant.id)
    if (!ctx.worker.running) await ctx.worker.start()
    await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)

    const url = ctx.api!.url
    const common = {
      url,
      path: '/api/orders/',
      method: 'POST' as const,
      expect: (status: number) => status === 202,
      setupRequest: roundRobinOrders(tenants),
    }

    // Steady rate.
    const steadySince = await databaseNow(ctx)
    const steady = await load({
      ...common,
      connections: 20,
      overallRate: ctx.sizes.pipelineRate,
      duration: ctx.sizes.pipelineSeconds,
    })
    const steadySettled = await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
    const latencies = await confirmationLatencies(ctx, ids, steadySince)
    const steadyCounts = await orderCounts(ctx, ids, steadySince)
    const steadyStages = await stages(ctx, ids, steadySince)
    const steadyNote = [
      `${steady.served} placed at ${steady.rps.toFixed(0)}/s`,
      anomalies(steady, (status) => status === 202),
      steadyCounts.rejected && `${steadyCounts.rejected} rejected`,
      !steadySettled &&
        `${steadyCounts.pending ?? 0} still pending after ${ctx.sizes.settleSeconds} s`,
    ]
      .filter(Boolean)
      .join('; ')

    // Sustained rate: a backlog drained by a freshly started worker.
    await ctx.worker.stop()
    const backlogSince = await databaseNow(ctx)
    const backlog = await load({
      ...common,
      connections: ctx.sizes.connections,
      amount: ctx.sizes.saturationOrders,
    })
    await ctx.worker.start()
    const drained = await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
    const sustained = await confirmationRate(ctx, ids, backlogSince)
    const floor = ctx.floors.queueTransaction?.rate ?? null

    // Steady rate again, at HIGH_RATE.
    const highSince = await databaseNow(ctx)
    const high = await load({
      ...common,
      connections: ctx.sizes.connections,
      overallRate: HIGH_RATE,
      duration: ctx.sizes.pipelineSeconds,
    })
    const highSettled = await waitUntilSettled(ctx, ids, ctx.sizes.settleSeconds * 1000)
    const highLatencies = await confirmationLatencies(ctx, ids, highSince)
    const highCounts = await orderCounts(ctx, ids, highSince)
    const highStages = await stages(ctx, ids, highSince)
    const highNote = [
      `${high.served} placed at ${high.rps.toFixed(0)}/s`,
      anomalies(high, (status) => status === 202),
      highCounts.rejected && `${highCounts.rejected} rejected`,
      !highSettled && `${highCounts.pending ?? 0} still pending after ${ctx.sizes.settleSeconds} s`,
    ]
      .filter(Boolean)
      .join('; ')

    return [
      compared({
        scenario: 'pipeline',
        metric: 'confirmation p50',
        value: percentile(latencies, 50),
        unit: 'ms',
        note: steadyNote,
      }),
      compared(
        {
          scenario: 'pipeline',
          metric: 'confirmation p99',
          value: percentile(latencies, 99),
          unit: 'ms',
          target: '≤ 100 ms at 200/s',
          note: steadyStages || undefined,
        },
        { absoluteMax: 100 }
      ),
      compared(
        {
          scenario: 'pipeline',
          metric: 'sustained confirmations/s',
          value: sustained.rate,
          unit: 'orders/s',
          floor,
          floorName: 'queue floor, 1 transaction/job',
          target: '≥ 100 % of floor',
          note:
            [
              `backlog of ${backlog.served} orders (placed at ${backlog.rps.toFixed(0)}/s with the worker stopped)`,
              anomalies(backlog, (status) => status === 202),
              !drained && 'backlog not drained in time',
              ctx.floors.errors.queue && `floor: ${ctx.floors.errors.queue}`,
            ]
              .filter(Boolean)
              .join('; ') || undefined,
        },
        { atLeast: 1 }
      ),
      compared({
        scenario: 'pipeline',
        metric: 'confirmation p50 at 500/s',
        value: percentile(highLatencies, 50),
        unit: 'ms',
        note: highNote,
      }),
      compared(
        {
          scenario: 'pipeline',
          metric: 'confirmation p99 at 500/s',
          value: percentile(highLatencies, 99),
          unit: 'ms',
          target: '≤ 250 ms at 500/s',
          note: highStages || undefined,
        },
        { absoluteMax: 250 }
      ),
    ]
  },
}
