import type { BenchContext, Scenario } from '../lib/context.ts'
import { once } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import { orderBody, orderCounts, request, unavailable, waitUntilSettled } from '../lib/orders.ts'
import { blocked, compared, notAvailable, type Row } from '../lib/report.ts'
import { seedTenant } from '../lib/seed.ts'
import { waitFor } from '../lib/stats.ts'

const METRICS = ['B confirmed after']

/**
 * fairness: tenant A floods 10,000 orders as fast as 50 connections allow;
 * halfway through, tenant B places one order. Target: B confirmed within
 * 2 s (confirmed_at - created_at), whatever A's backlog.
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
      return METRICS.map((metric) =>
        notAvailable('fairness', metric, ctx.worker.reason ?? 'worker not available')
      )
    }
    const probe = await request(
      ctx,
      'POST',
      '/api/orders/',
      a.customers[0].token,
      JSON.parse(orderBody(a))
    )
    const problem = unavailable('POST /api/orders/', probe, 202)
    if (problem) return blocked('fairness', METRICS, problem)
    if (!ctx.worker.running) await ctx.worker.start()
    await waitUntilSettled(ctx, [a.id, b.id], ctx.sizes.settleSeconds * 1000)

    const half = Math.floor(ctx.sizes.fairnessFlood / 2)
    let placed: Promise<{ orderId: number | null; backlog: number; status: number }> | undefined
    const placeB = async () => {
      const answer = await request(
        ctx,
        'POST',
        '/api/orders/',
        b.customers[0].token,
        JSON.parse(orderBody(b))
      )
      const counts = await orderCounts(ctx, [a.id])
      const backlog = counts.pending ?? 0
      return { orderId: answer.json?.id ?? null, backlog, status: answer.status }
    }
    const flood = await load({
      url: ctx.api!.url,
      path: '/api/orders/',
      method: 'POST',
      connections: ctx.sizes.connections,
      amount: ctx.sizes.fairnessFlood,
      headers: { authorization: `Bearer ${a.customers[0].token}` },
      setupRequest: (req) => {
        req.body = orderBody(a)
        return req
      },
      expect: (status) => status === 202,
      onResponse: (_status, count) => {
        if (count === half) placed = placeB()
      },
    })
    const bOrder = await (placed ?? placeB())
    if (bOrder.status !== 202 || !bOrder.orderId) {
      return blocked('fairness', METRICS, {
        reason: `B's order answered ${bOrder.status}`,
        missing: false,
      })
    }
    const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(b.id))
    let latency: number | null = null
    let status = 'pending'
    await waitFor(
      async () => {
        const { rows } = await ctx.pool.query(
          `select status, extract(epoch from (confirmed_at - created_at)) * 1000 as ms
           from ${schema}.orders where id = $1`,
          [bOrder.orderId]
        )
        status = rows[0]?.status ?? 'missing'
        latency = rows[0]?.ms === null || rows[0]?.ms === undefined ? null : Number(rows[0].ms)
        return status !== 'pending'
      },
      { timeoutMs: 60_000, intervalMs: 50 }
    )
    const drained = await waitUntilSettled(ctx, [a.id], ctx.sizes.settleSeconds * 1000)
    const row = compared(
      {
        scenario: 'fairness',
        metric: 'B confirmed after',
        value: status === 'confirmed' ? latency : null,
        unit: 'ms',
        target: '≤ 2,000 ms',
        note: [
          `B's order ${status}`,
          `A's backlog when B ordered: ${bOrder.backlog} pending`,
          `A's flood: ${flood.served} accepted at ${flood.rps.toFixed(0)}/s`,
          anomalies(flood, (code) => code === 202),
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
