import { availableParallelism, loadavg } from 'node:os'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { ddlFloorSample } from '../floors/ddl.ts'
import { dropRenameFloor, prepareRenameFloor, renameFloorSample } from '../floors/rename.ts'
import { withClient } from '../lib/database.ts'
import { request, unavailable } from '../lib/orders.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { percentile } from '../lib/stats.ts'

/**
 * provisioning: sign-ups one after another.
 * - Built (the pool empty): `TenantProvisioner.provision` in-process with
 *   a precomputed password hash (tenant row, schema with every table,
 *   owner, one transaction), each right after one sample of the DDL floor,
 *   so both see the same load. Target: p50 ≤ 2× the DDL floor.
 * - From the pool of ready schemas: the same calls with the pool filled
 *   beforehand (not timed), each right after one sample of the rename
 *   floor. The schema part (between the provisioner's "tenant" and
 *   "schema" steps: claim + rename, or the build) is timed on its own.
 *   Target: schema part p50 ≤ 2 ms, beside the DDL and rename floors.
 * - The whole sign-up over HTTP (`POST /api/auth/register/`), password
 *   hashing included, with the pool filled; reported, no target.
 */
export const provisioning: Scenario = {
  name: 'provisioning',
  needs: { api: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const rows: Row[] = []
    const run = `${Date.now().toString(36)}`
    const count = ctx.sizes.provisionCount
    const warmup = 3
    const empty = new ctx.app.TenantPool({ size: 0 })
    await empty.empty()

    const timed = async (name: string) => {
      let tenantStep = 0
      let schemaPart = 0
      const started = performance.now()
      const provisioner = new ctx.app.TenantProvisioner((step) => {
        if (step === 'tenant') tenantStep = performance.now()
        if (step === 'schema') schemaPart = performance.now() - tenantStep
      }, empty)
      const result = await provisioner.provision({
        name: `Bench provisioning ${name}`,
        owner: { username: name, email: `${name}@example.com`, passwordHash: ctx.passwordHash },
      })
      return { whole: performance.now() - started, schemaPart, origin: result.schema }
    }

    const built = { whole: [] as number[], schema: [] as number[], floor: [] as number[] }
    const pooled = { whole: [] as number[], schema: [] as number[], floor: [] as number[] }
    let misses = 0
    await withClient(ctx.pgOptions, async (client) => {
      for (let index = 0; index < count + warmup; index++) {
        const floorMs = await ddlFloorSample(ctx, client, index)
        const sample = await timed(`bench-p-${run}-${index}`)
        if (index < warmup) continue
        built.whole.push(sample.whole)
        built.schema.push(sample.schemaPart)
        built.floor.push(floorMs)
      }

      await new ctx.app.TenantPool({ size: count + warmup }).fill()
      await prepareRenameFloor(client)
      for (let index = 0; index < count + warmup; index++) {
        const floorMs = await renameFloorSample(client)
        const sample = await timed(`bench-q-${run}-${index}`)
        if (sample.origin !== 'claimed') misses++
        if (index < warmup) continue
        pooled.whole.push(sample.whole)
        pooled.schema.push(sample.schemaPart)
        pooled.floor.push(floorMs)
      }
      await dropRenameFloor(client)
    })
    ctx.floors.ddl = {
      p50: percentile(built.floor, 50) as number,
      p99: percentile(built.floor, 99) as number,
    }
    const floor = ctx.floors.ddl
    const rename = { p50: percentile(pooled.floor, 50), p99: percentile(pooled.floor, 99) }
    const tenants = `${count} tenants`
    const ms = (value: number | null) => (value === null ? '—' : `${value.toFixed(2)} ms`)
    rows.push(
      compared(
        {
          scenario: 'provisioning',
          metric: 'schema provisioning p50, built (in-process)',
          value: percentile(built.whole, 50),
          unit: 'ms',
          floor: floor?.p50 ?? null,
          floorName: 'DDL floor',
          target: '≤ 2× floor',
          note: `${tenants}, pool empty, each right after one DDL floor sample; schema part p50 ${ms(percentile(built.schema, 50))}`,
        },
        { atMost: 2 }
      ),
      compared({
        scenario: 'provisioning',
        metric: 'schema provisioning p99, built (in-process)',
        value: percentile(built.whole, 99),
        unit: 'ms',
        floor: floor?.p99 ?? null,
        floorName: 'DDL floor',
      }),
      compared(
        {
          scenario: 'provisioning',
          metric: 'schema part p50, from the pool (claim + rename)',
          value: percentile(pooled.schema, 50),
          unit: 'ms',
          floor: rename.p50,
          floorName: 'rename floor',
          target: '≤ 2 ms',
          note:
            `${tenants}, each right after one rename floor sample; DDL floor p50 ${ms(floor?.p50 ?? null)} ` +
            `in the same run, load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores` +
            `${misses ? `; ${misses} found the pool empty` : ''}`,
        },
        { absoluteMax: 2 }
      ),
      compared({
        scenario: 'provisioning',
        metric: 'schema part p99, from the pool (claim + rename)',
        value: percentile(pooled.schema, 99),
        unit: 'ms',
        floor: rename.p99,
        floorName: 'rename floor',
      }),
      compared({
        scenario: 'provisioning',
        metric: 'whole provision() p50, from the pool (in-process)',
        value: percentile(pooled.whole, 50),
        unit: 'ms',
        floor: floor?.p50 ?? null,
        floorName: 'DDL floor',
        note: 'tenant row, claim, rename, owner, commit',
      })
    )

    // The HTTP sign-ups claim spares too.
    await new ctx.app.TenantPool({ size: ctx.sizes.registerCount + 1 }).fill()
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
        note: `${note}; from the pool`,
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
