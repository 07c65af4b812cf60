import { READ_PATH, recordReadFloor, startReadFloor } from '../floors/read.ts'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { readTenant } from '../lib/fixtures.ts'
import { anomalies, combine, load, type LoadResult } from '../lib/load.ts'
import { request, unavailable } from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'

/**
 * read: GET /api/products/?per_page=20 of a tenant with 1,000 products, by
 * its owner, 50 connections for 10 s. Target (issue 15): ≥ 80 % of the read
 * floor's req/s, p99 ≤ 1.5× the floor's.
 *
 * The floor and the API are loaded in turn, half the time each, twice
 * (floor, API, floor, API), so that both see the same machine: other work
 * on a shared machine comes and goes over a run.
 */
export const read: Scenario = {
  name: 'read',
  needs: { api: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const tenant = await readTenant(ctx)
    const probe = await request(ctx, 'GET', READ_PATH, tenant.owner.token)
    const problem = unavailable('GET /api/products/', probe, 200)
    const floorServer = await startReadFloor(ctx)
    const floorRuns: LoadResult[] = []
    const apiRuns: LoadResult[] = []
    try {
      const run = (url: string, duration: number) =>
        load({
          url,
          path: READ_PATH,
          connections: ctx.sizes.connections,
          duration,
          headers: { authorization: `Bearer ${tenant.owner.token}` },
        })
      const half = ctx.sizes.readSeconds / 2
      await run(floorServer.url, 1)
      if (!problem) await run(ctx.api!.url, 1)
      for (let round = 0; round < 2; round++) {
        floorRuns.push(await run(floorServer.url, half))
        if (!problem) apiRuns.push(await run(ctx.api!.url, half))
      }
    } finally {
      await floorServer.stop()
    }
    recordReadFloor(ctx, combine(floorRuns))
    if (problem) {
      return blocked(
        'read',
        [['req/s', '≥ 80 % of floor'], ['p50'], ['p99', '≤ 1.5× floor']],
        problem
      )
    }

    const result = combine(apiRuns)
    const floor = ctx.floors.read
    return [
      compared(
        {
          scenario: 'read',
          metric: 'req/s',
          value: result.rps,
          unit: 'req/s',
          floor: floor?.rps ?? null,
          floorName: 'read floor',
          target: '≥ 80 % of floor',
          note: anomalies(result) || 'floor and API loaded in turn, 2 × half the time each',
        },
        { atLeast: 0.8 }
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
          target: '≤ 1.5× floor',
        },
        { atMost: 1.5 }
      ),
    ]
  },
}
