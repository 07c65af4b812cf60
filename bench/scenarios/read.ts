import { READ_PATH } from '../floors/read.ts'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { readTenant } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import { request, unavailable } from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'

/**
 * read: GET /api/products/?per_page=20 of a tenant with 1,000 products, by
 * its owner, 50 connections for 10 s. Target: ≥ 60 % of the read floor's
 * req/s, p99 ≤ 2× the floor's.
 */
export const read: Scenario = {
  name: 'read',
  needs: { api: true, floors: ['read'] },
  async run(ctx: BenchContext): Promise<Row[]> {
    const tenant = await readTenant(ctx)
    const probe = await request(ctx, 'GET', READ_PATH, tenant.owner.token)
    const problem = unavailable('GET /api/products/', probe, 200)
    if (problem)
      return blocked(
        'read',
        [['req/s', '≥ 60 % of floor'], ['p50'], ['p99', '≤ 2× floor']],
        problem
      )
    const options = {
      url: ctx.api!.url,
      path: READ_PATH,
      connections: ctx.sizes.connections,
      headers: { authorization: `Bearer ${tenant.owner.token}` },
    }
    await load({ ...options, duration: 1 })
    const result = await load({ ...options, duration: ctx.sizes.readSeconds })
    const floor = ctx.floors.read
    const note = [anomalies(result), ctx.floors.errors.read && `floor: ${ctx.floors.errors.read}`]
      .filter(Boolean)
      .join('; ')
    return [
      compared(
        {
          scenario: 'read',
          metric: 'req/s',
          value: result.rps,
          unit: 'req/s',
          floor: floor?.rps ?? null,
          floorName: 'read floor',
          target: '≥ 60 % of floor',
          note: note || undefined,
        },
        { atLeast: 0.6 }
      ),
      compared({
        scenario: 'read',
        metric: 'p50',
        value: result.p50,
        unit: 'ms',
        floor: floor?.p50 ?? null,
        floorName: 'read floor',
      }),
      compared(
        {
          scenario: 'read',
          metric: 'p99',
          value: result.p99,
          unit: 'ms',
          floor: floor?.p99 ?? null,
          floorName: 'read floor',
          target: '≤ 2× floor',
        },
        { atMost: 2 }
      ),
    ]
  },
}
