import type { BenchContext } from '../lib/context.ts'
import { withClient } from '../lib/database.ts'
import { percentile } from '../lib/stats.ts'

/**
 * DDL floor: the application's compiled provisioning SQL for one tenant
 * schema (`provisionSql`: schema, ledger, every tenant table and index),
 * sent as one simple-protocol query, which PostgreSQL runs as one
 * transaction, commit included. The schema is dropped afterwards (not
 * timed). Ids far above the real ones, so no tenant row matches.
 */
export async function measureDdlFloor(ctx: BenchContext) {
  const warmup = 3
  const times: number[] = []
  await withClient(ctx.pgOptions, async (client) => {
    for (let index = 0; index < ctx.sizes.ddlIterations + warmup; index++) {
      const id = 2_000_000_000 + index
      const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(id))
      const sql = await ctx.app.provisionSql(id, schema)
      await client.query(`drop schema if exists ${schema} cascade`)
      const started = performance.now()
      await client.query(sql)
      const elapsed = performance.now() - started
      if (index >= warmup) times.push(elapsed)
      await client.query(`drop schema ${schema} cascade`)
    }
  })
  ctx.floors.ddl = { p50: percentile(times, 50) as number, p99: percentile(times, 99) as number }
  ctx.log(`DDL floor: p50 ${ctx.floors.ddl.p50.toFixed(1)} ms per tenant schema`)
}
