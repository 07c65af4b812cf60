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
        },
        { absoluteMax: 250 }
      ),
    ]
  },
}
