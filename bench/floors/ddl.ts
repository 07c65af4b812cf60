import type pg from 'pg'
import type { BenchContext } from '../lib/context.ts'

/**
 * DDL floor: the application's compiled provisioning SQL for one tenant
 * schema (`provisionSql`: schema, ledger, every tenant table and index),
 * sent as one simple-protocol query, which PostgreSQL runs as one
 * transaction, commit included. The schema is dropped afterwards (not
 * timed). Ids far above the real ones, so no tenant row matches.
 *
 * The provisioning scenario takes one sample before each sign-up it times
 * (interleaved, so both see the same machine load). Returns the ms.
 */
export async function ddlFloorSample(ctx: BenchContext, client: pg.Client, index: number) {
  const id = 2_000_000_000 + index
  const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(id))
  const sql = await ctx.app.provisionSql(id, schema)
  await client.query(`drop schema if exists ${schema} cascade`)
  const started = performance.now()
  await client.query(sql)
  const elapsed = performance.now() - started
  await client.query(`drop schema ${schema} cascade`)
  return elapsed
}
