import type autocannon from 'autocannon'
import { READ_PATH } from '../floors/read.ts'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { once, pick, readTenant } from '../lib/fixtures.ts'
import { anomalies, load, type LoadResult } from '../lib/load.ts'
import { request, unavailable } from '../lib/orders.ts'
import { backendMemory, type BackendMemory } from '../lib/pg_memory.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { bulkTenants, seedUsers } from '../lib/seed.ts'

/**
 * scale: the read scenario with a random tenant per request, among 10 and
 * among 10,000 tenants (each with 20 products, the same data for both
 * runs: the first 10 tenants are among the 10,000). Target: the
 * 10,000-tenant req/s ≥ 95 % of the 10-tenant figure. Reports the private
 * memory of the API's PostgreSQL backends after each run: every backend
 * caches the catalog entries of each schema it has visited, so with many
 * tenants that memory grows until the pool recycles the connection
 * (DB_CONNECTION_LIFETIME_MS, or DB_CONNECTION_MAX_TENANTS distinct
 * tenants), and the connections opened during each run (the reconnects
 * those cost).
 */
const fmtCount = (n: number) => n.toLocaleString('en-US')

export const scale: Scenario = {
  name: 'scale',
  needs: { api: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const [few, many] = ctx.sizes.scaleTenants
    const metrics = [`req/s, ${few} tenants`, `req/s, ${fmtCount(many)} tenants`]
    const reader = await readTenant(ctx)
    const probe = await request(ctx, 'GET', READ_PATH, reader.owner.token)
    const problem = unavailable('GET /api/products/', probe, 200)
    if (problem) return blocked('scale', [[metrics[0]], [metrics[1], '≥ 95 % of floor']], problem)

    const tokens = await once(ctx, 'scale', async () => {
      ctx.log(
        `scale: provisioning ${fmtCount(many)} tenants with ${ctx.sizes.scaleProducts} products each…`
      )
      const { ids, ms } = await bulkTenants(ctx.app, ctx.pgOptions, ctx.pool, many, {
        connections: ctx.env.parallel,
        products: ctx.sizes.scaleProducts,
        stock: 1000,
      })
      ctx.log(`scale: ${fmtCount(ids.length)} tenants in ${(ms / 1000).toFixed(1)} s`)
      const owners = await seedUsers(ctx.app, ctx.pool, ids, 'owner', 1, ctx.passwordHash)
      await ctx.pool.query('analyze public.users, public.auth_sessions, public.tenants')
      return owners.sort((x, y) => x.tenantId - y.tenantId).map((owner) => owner.token)
    })

    const runFor = async (count: number) => {
      const subset = tokens.slice(0, count)
      const options = {
        url: ctx.api!.url,
        path: READ_PATH,
        connections: ctx.sizes.connections,
        setupRequest: (req: autocannon.Request) => {
          req.headers = { ...req.headers, authorization: `Bearer ${pick(subset)}` }
          return req
        },
      }
      await load({ ...options, duration: 1 })
      const before = await sessions()
      const result = await load({ ...options, duration: ctx.sizes.readSeconds })
      const memory = await backendMemory(ctx.pool, 'bench-api', ctx.env.database)
      // connections retired by DB_CONNECTION_MAX_TENANTS (or their lifetime)
      // show as sessions opened during the measured load
      const opened = before === null ? null : ((await sessions()) ?? before) - before
      return { result, memory, opened }
    }
    /** Sessions opened on the bench database so far (PostgreSQL ≥ 14), null when unknown. */
    const sessions = async (): Promise<number | null> => {
      const { rows } = await ctx.pool.query(
        `select pg_stat_clear_snapshot(), (select sessions from pg_stat_database where datname = $1) as n`,
        [ctx.env.database]
      )
      return rows[0]?.n ?? null
    }
    // A backend's memory grows with the distinct tenants it served, so with
    // the requests it served: both are reported, the run being timed.
    const describe = (result: LoadResult, memory: BackendMemory | null, opened: number | null) =>
      [
        `p50 ${result.p50?.toFixed(1)} ms, p99 ${result.p99?.toFixed(1)} ms`,
        `${fmtCount(result.responses)} responses measured (after 1 s of warm-up)`,
        opened === null ? '' : `${opened} connections opened during it`,
        memory
          ? `API's PostgreSQL backends afterwards: ${memory.backends}, ${memory.totalMiB.toFixed(0)} MiB private in all, largest ${memory.maxMiB.toFixed(1)} MiB`
          : 'backend memory not readable (PostgreSQL not local?)',
        anomalies(result),
      ]
        .filter(Boolean)
        .join('; ')

    const small = await runFor(few)
    const large = await runFor(many)
    const memoryRow = (label: string, memory: BackendMemory | null, floor?: BackendMemory | null) =>
      compared(
        {
          scenario: 'scale',
          metric: label,
          value: memory ? memory.maxMiB : null,
          unit: 'MiB',
          floor: floor?.maxMiB ?? null,
          floorName: floor ? `after ${few} tenants` : undefined,
          target: floor ? '≤ 12 MiB' : undefined,
          note: memory
            ? `${memory.backends} backends, ${memory.totalMiB.toFixed(0)} MiB in all`
            : undefined,
        },
        floor ? { absoluteMax: 12 } : {}
      )
    return [
      compared({
        scenario: 'scale',
        metric: metrics[0],
        value: small.result.rps,
        unit: 'req/s',
        note: describe(small.result, small.memory, small.opened),
      }),
      compared(
        {
          scenario: 'scale',
          metric: metrics[1],
          value: large.result.rps,
          unit: 'req/s',
          floor: small.result.rps,
          floorName: `${few} tenants`,
          target: '≥ 95 % of floor',
          note: describe(large.result, large.memory, large.opened),
        },
        { atLeast: 0.95 }
      ),
      memoryRow(`largest API backend, after ${few} tenants`, small.memory),
      memoryRow(`largest API backend, after ${fmtCount(many)} tenants`, large.memory, small.memory),
    ]
  },
}
