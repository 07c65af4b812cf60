import type { BenchContext, Scenario } from '../lib/context.ts'
import { ddlFloorSample } from '../floors/ddl.ts'
import { withClient } from '../lib/database.ts'
import { request, unavailable } from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { percentile } from '../lib/stats.ts'

/**
 * provisioning: sign-ups one after another.
 * - The schema part: `TenantProvisioner.provision` in-process with a
 *   precomputed password hash (tenant row, schema with every table, owner,
 *   one transaction), each right after one sample of the DDL floor, so
 *   both see the same load. Target: p50 ≤ 2× the DDL floor.
 * - The whole sign-up over HTTP (`POST /api/auth/register/`), password
 *   hashing included; reported, no target.
 */
export const provisioning: Scenario = {
  name: 'provisioning',
  needs: { api: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const rows: Row[] = []
    const run = `${Date.now().toString(36)}`
    const times: number[] = []
    const floorTimes: number[] = []
    const warmup = 3
    await withClient(ctx.pgOptions, async (client) => {
      for (let index = 0; index < ctx.sizes.provisionCount + warmup; index++) {
        const floorMs = await ddlFloorSample(ctx, client, index)
        const name = `bench-p-${run}-${index}`
        const started = performance.now()
        await new ctx.app.TenantProvisioner().provision({
          name: `Bench provisioning ${name}`,
          owner: { username: name, email: `${name}@example.com`, passwordHash: ctx.passwordHash },
        })
        if (index < warmup) continue
        times.push(performance.now() - started)
        floorTimes.push(floorMs)
      }
    })
    ctx.floors.ddl = {
      p50: percentile(floorTimes, 50) as number,
      p99: percentile(floorTimes, 99) as number,
    }
    const floor = ctx.floors.ddl
    const count = `${ctx.sizes.provisionCount} tenants`
    rows.push(
      compared(
        {
          scenario: 'provisioning',
          metric: 'schema provisioning p50 (in-process)',
          value: percentile(times, 50),
          unit: 'ms',
          floor: floor?.p50 ?? null,
          floorName: 'DDL floor',
          target: '≤ 2× floor',
          note: `${count}, each right after one DDL floor sample`,
        },
        { atMost: 2 }
      ),
      compared({
        scenario: 'provisioning',
        metric: 'schema provisioning p99 (in-process)',
        value: percentile(times, 99),
        unit: 'ms',
        floor: floor?.p99 ?? null,
        floorName: 'DDL floor',
      })
    )

    const metrics = ['POST /api/auth/register/ p50', 'POST /api/auth/register/ p99']
    const body = (index: number) => {
      const name = `bench-r-${run}-${index}`
      return {
        username: name,
        email: `${name}@example.com`,
        password: 'bench-password-1',
        store_name: `Bench register ${name}`,
      }
    }
    const first = await request(ctx, 'POST', '/api/auth/register/', undefined, body(0))
    const problem = unavailable('POST /api/auth/register/', first, 201)
    if (problem) {
      rows.push(...blocked('provisioning', [[metrics[0]], [metrics[1]]], problem))
      return rows
    }
    const http: number[] = []
    const failures: Record<string, number> = {}
    for (let index = 1; index <= ctx.sizes.registerCount; index++) {
      const started = performance.now()
      const answer = await request(ctx, 'POST', '/api/auth/register/', undefined, body(index))
      const elapsed = performance.now() - started
      if (answer.status === 201) http.push(elapsed)
      else failures[answer.status] = (failures[answer.status] ?? 0) + 1
    }
    const note = [
      `${http.length} sign-ups, password hashing included`,
      ...Object.entries(failures).map(([status, n]) => `${n}× ${status}`),
    ].join('; ')
    rows.push(
      compared({
        scenario: 'provisioning',
        metric: metrics[0],
        value: percentile(http, 50),
        unit: 'ms',
        note,
      }),
      compared({
        scenario: 'provisioning',
        metric: metrics[1],
        value: percentile(http, 99),
        unit: 'ms',
      })
    )
    return rows
  },
}
