import type { BenchContext, Scenario } from '../lib/context.ts'
import { once } from '../lib/fixtures.ts'
import type autocannon from 'autocannon'
import { anomalies, load } from '../lib/load.ts'
import {
  databaseNow,
  orderBody,
  orderCounts,
  request,
  ordersUnavailable,
  waitUntilSettled,
} from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { seedTenant } from '../lib/seed.ts'
import { waitFor } from '../lib/stats.ts'

const METRICS: Array<[string, string?]> = [
  ["B confirmed after, from the worker's first confirmation", '≤ 2,000 ms'],
]

/**
 * fairness: tenant A floods 10,000 orders as fast as 50 connections allow;
 * halfway through, tenant B places one order. Target: B confirmed within
 * 2 s, whatever A's backlog.
 *
 * The worker is stopped during the first half of the flood, so that A has
 * a backlog of thousands of queued orders when B orders on any machine
 * (otherwise a fast worker could keep up with placement and the scenario
 * would prove nothing). It starts as B's order is placed, while A's
 * second half keeps coming; B's time is counted from the worker's first
 * confirmation, so the worker's boot is not charged to fairness (the time
 * since placement is in the note).
 */
export const fairness: Scenario = {
  name: 'fairness',
  needs: { api: true, worker: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const [a, b] = await once(ctx, 'fairness', async () => [
      await seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
        products: 50,
        stock: 100_000_000,
        customers: 1,
      }),
      await seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
        products: 50,
        stock: 100_000_000,
        customers: 1,
      }),
    ])
    if (!ctx.worker.available) {
      return blocked('fairness', METRICS, {
        reason: ctx.worker.reason ?? 'worker not available',
        missing: true,
      })
    }
    const problem = await ordersUnavailable(ctx, a)
    if (problem) return blocked('fairness', METRICS, problem)
    if (!ctx.worker.running) await ctx.worker.start()
    await waitUntilSettled(ctx, [a.id, b.id], ctx.sizes.settleSeconds * 1000)

    // First half of the flood with the worker stopped: whatever the speed of
    // this machine, A has a real backlog when B orders.
    const half = Math.floor(ctx.sizes.fairnessFlood / 2)
    const flood = {
      url: ctx.api!.url,
      path: '/api/orders/',
      method: 'POST' as const,
      connections: ctx.sizes.connections,
      headers: { authorization: `Bearer ${a.customers[0].token}` },
      expect: (code: number) => code === 202,
      setupRequest: (req: autocannon.Request) => {
        req.body = orderBody(a)
        return req
      },
    }
    await ctx.worker.stop()
    const firstHalf = await load({ ...flood, amount: half })
    const answer = await request(
      ctx,
      'POST',
      '/api/orders/',
      b.customers[0].token,
      JSON.parse(orderBody(b))
    )
    const counts = await orderCounts(ctx, [a.id])
    const backlog = counts.pending ?? 0
    const orderId: number | null = answer.json?.id ?? null
    if (answer.status !== 202 || !orderId) {
      await ctx.worker.start()
      return blocked('fairness', METRICS, {
        reason: `B's order answered ${answer.status}`,
        missing: false,
      })
    }
    const resumedAt = await databaseNow(ctx)
    const [secondHalf] = await Promise.all([
      load({ ...flood, amount: ctx.sizes.fairnessFlood - half }),
      ctx.worker.start(),
    ])

    const bSchema = ctx.app.quoteIdent(ctx.app.tenantSchema(b.id))
    const aSchema = ctx.app.quoteIdent(ctx.app.tenantSchema(a.id))
    let latency: number | null = null
    let sinceCreated: number | null = null
    let status = 'pending'
    await waitFor(
      async () => {
        const { rows } = await ctx.pool.query(
          `select b.status, extract(epoch from (b.confirmed_at - b.created_at)) * 1000 as since_created,
                  extract(epoch from (b.confirmed_at - (
                    select min(confirmed_at) from ${aSchema}.orders where confirmed_at >= $2
                  ))) * 1000 as since_first
           from ${bSchema}.orders b where b.id = $1`,
          [orderId, resumedAt]
        )
        status = rows[0]?.status ?? 'missing'
        const value = (v: unknown) =>
          v === null || v === undefined ? null : Math.max(0, Number(v))
        sinceCreated = value(rows[0]?.since_created)
        latency = value(rows[0]?.since_first) ?? (status === 'confirmed' ? 0 : null)
        return status !== 'pending'
      },
      { timeoutMs: 60_000, intervalMs: 50 }
    )
    const drained = await waitUntilSettled(ctx, [a.id], ctx.sizes.settleSeconds * 1000)
    const row = compared(
      {
        scenario: 'fairness',
        metric: METRICS[0][0],
        value: status === 'confirmed' ? latency : null,
        unit: 'ms',
        target: '≤ 2,000 ms',
        note: [
          `B's order ${status}; ${sinceCreated === null ? '' : `${Math.round(sinceCreated)} ms after it was placed (worker start included)`}`,
          `A's backlog when B ordered: ${backlog} pending`,
          `A's flood: ${firstHalf.served + secondHalf.served} accepted`,
          anomalies(firstHalf, (code) => code === 202),
          anomalies(secondHalf, (code) => code === 202),
          !drained && "A's backlog not drained in time",
        ]
          .filter(Boolean)
          .join('; '),
      },
      { absoluteMax: 2000 }
    )
    if (status !== 'confirmed') row.met = false
    return [row]
  },
}
