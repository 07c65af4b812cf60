import type autocannon from 'autocannon'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { writeTenant } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import { orderBody, request, unavailable, waitUntilSettled } from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'

let sku = 0
const productBody = () =>
  JSON.stringify({
    name: `Bench write ${++sku}`,
    sku: `W-${process.pid}-${Date.now().toString(36)}-${sku}`,
    price: '19.99',
    stock: 100,
  })

const targetText = (ratio: number) => `≥ ${Math.round(ratio * 100)} % of floor`

/**
 * write: POST /api/products/ (owner) and POST /api/orders/ (customer,
 * accepted with 202), 50 connections for 10 s each. Targets: products ≥ 40 %
 * of the read floor's req/s, orders ≥ 50 % (issue 15). The worker runs meanwhile (as in production) and
 * the order backlog is drained before the next scenario.
 *
 * A third row places orders again with the worker stopped (no target): the
 * API's own placement rate, without the worker confirming the orders on the
 * same cores. The difference between the two order rows is the worker's
 * share; the orders placed meanwhile are confirmed once it is back.
 */
export const write: Scenario = {
  name: 'write',
  needs: { api: true, worker: true, floors: ['read'] },
  async run(ctx: BenchContext): Promise<Row[]> {
    const tenant = await writeTenant(ctx)
    const rows: Row[] = []
    const floor = ctx.floors.read?.rps ?? null

    const runs = [
      {
        metric: 'POST /api/products/ req/s',
        path: '/api/products/',
        expected: 201,
        token: tenant.owner.token,
        body: productBody,
        target: 0.4,
      },
      {
        metric: 'POST /api/orders/ req/s',
        path: '/api/orders/',
        expected: 202,
        token: tenant.customers[0].token,
        body: () => orderBody(tenant),
        target: 0.5,
      },
      {
        metric: 'POST /api/orders/ req/s, worker stopped',
        path: '/api/orders/',
        expected: 202,
        token: tenant.customers[0].token,
        body: () => orderBody(tenant),
        target: null,
        workerStopped: true,
      },
    ]
    for (const run of runs) {
      const probe = await request(ctx, 'POST', run.path, run.token, JSON.parse(run.body()))
      const problem = unavailable(`POST ${run.path}`, probe, run.expected)
      if (problem) {
        rows.push(
          ...blocked(
            'write',
            [[run.metric, run.target ? targetText(run.target) : undefined]],
            problem
          )
        )
        continue
      }
      const restartWorker = 'workerStopped' in run && ctx.worker.running
      if (restartWorker) await ctx.worker.stop()
      const options = {
        url: ctx.api!.url,
        path: run.path,
        method: 'POST' as const,
        connections: ctx.sizes.connections,
        headers: { authorization: `Bearer ${run.token}` },
        expect: (status: number) => status === run.expected,
        setupRequest: (req: autocannon.Request) => {
          req.body = run.body()
          return req
        },
      }
      await load({ ...options, duration: 1 })
      const result = await load({ ...options, duration: ctx.sizes.writeSeconds })
      if (restartWorker) await ctx.worker.start()
      rows.push(
        compared(
          {
            scenario: 'write',
            metric: run.metric,
            value: result.rps,
            unit: 'req/s',
            floor,
            floorName: 'read floor',
            target: run.target ? targetText(run.target) : undefined,
            note:
              [
                'workerStopped' in run &&
                  (restartWorker ? 'worker stopped meanwhile' : 'worker was not running'),
                anomalies(result, (status) => status === run.expected),
                `p50 ${result.p50?.toFixed(1)} ms, p99 ${result.p99?.toFixed(1)} ms`,
              ]
                .filter(Boolean)
                .join('; ') || undefined,
          },
          run.target ? { atLeast: run.target } : {}
        )
      )
    }

    if (ctx.worker.running) {
      const settled = await waitUntilSettled(ctx, [tenant.id], ctx.sizes.settleSeconds * 1000)
      if (!settled) ctx.log('write: the order backlog did not drain in time')
    }
    return rows
  },
}
