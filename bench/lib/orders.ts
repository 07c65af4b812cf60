import type autocannon from 'autocannon'
import type { BenchContext } from './context.ts'
import { pick } from './fixtures.ts'
import type { SeedTenant } from './seed.ts'
import { waitFor } from './stats.ts'

/**
 * Helpers for the order scenarios: request bodies, and reading order
 * states and timings straight from the tenant schemas.
 */
export function orderBody(tenant: SeedTenant) {
  return JSON.stringify({ items: [{ product_id: pick(tenant.productIds), qty: 1 }] })
}

/**
 * autocannon setupRequest that places each order as the customer of the
 * next tenant in turn, on a random product of that tenant.
 */
export function roundRobinOrders(tenants: SeedTenant[]) {
  let next = 0
  return (req: autocannon.Request) => {
    const tenant = tenants[next++ % tenants.length]
    req.headers = { ...req.headers, authorization: `Bearer ${tenant.customers[0].token}` }
    req.body = orderBody(tenant)
    return req
  }
}

function ordersOf(ctx: BenchContext, tenantIds: number[], columns: string, where: string) {
  return tenantIds
    .map((id) => {
      const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(id))
      return `select ${columns} from ${schema}.orders where ${where}`
    })
    .join('\nunion all\n')
}

export async function databaseNow(ctx: BenchContext): Promise<Date> {
  const { rows } = await ctx.pool.query('select clock_timestamp() as now')
  return rows[0].now
}

export async function orderCounts(ctx: BenchContext, tenantIds: number[], since?: Date) {
  const where = since ? 'created_at >= $1' : 'true'
  const { rows } = await ctx.pool.query(
    `select status, count(*)::int as n from (${ordersOf(ctx, tenantIds, 'status', where)}) o group by status`,
    since ? [since] : []
  )
  const counts: Record<string, number> = {}
  for (const row of rows) counts[row.status] = row.n
  return counts
}

/**
 * Waits until no order of these tenants is pending (the worker has taken
 * every one). Returns false when the time ran out.
 */
export function waitUntilSettled(ctx: BenchContext, tenantIds: number[], timeoutMs: number) {
  return waitFor(
    async () => {
      const counts = await orderCounts(ctx, tenantIds)
      return (counts.pending ?? 0) === 0
    },
    {
      timeoutMs,
      intervalMs: 250,
    }
  )
}

/**
 * Confirmation latency of every order created since `since`, from the
 * database: confirmed_at - created_at in ms.
 */
export async function confirmationLatencies(ctx: BenchContext, tenantIds: number[], since: Date) {
  const { rows } = await ctx.pool.query(
    `select extract(epoch from (confirmed_at - created_at)) * 1000 as ms
     from (${ordersOf(ctx, tenantIds, 'confirmed_at, created_at', "status = 'confirmed' and created_at >= $1")}) o`,
    [since]
  )
  return rows.map((row) => Number(row.ms))
}

/**
 * Confirmations per second over orders created since `since`: (n - 1)
 * confirmations between the first and the last confirmed_at.
 */
export async function confirmationRate(ctx: BenchContext, tenantIds: number[], since: Date) {
  const { rows } = await ctx.pool.query(
    `select count(*)::int as n, extract(epoch from (max(confirmed_at) - min(confirmed_at))) as seconds
     from (${ordersOf(ctx, tenantIds, 'confirmed_at', "status = 'confirmed' and created_at >= $1")}) o`,
    [since]
  )
  const { n, seconds } = rows[0]
  return { count: n as number, rate: n > 1 && seconds > 0 ? (n - 1) / Number(seconds) : null }
}

/**
 * One request's status (and JSON body), for probing whether an endpoint
 * exists on this build.
 */
export async function request(
  ctx: BenchContext,
  method: string,
  path: string,
  token?: string,
  body?: unknown
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${ctx.api?.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'accept': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: response.status, json }
}

/**
 * Null when the endpoint answered as the contract says, else why the
 * scenario cannot run ("not available" when the route does not exist).
 */
export function unavailable(
  label: string,
  answer: { status: number; json: any },
  expected: number
): { reason: string; missing: boolean } | null {
  if (answer.status === expected) return null
  const code = answer.json?.errors?.[0]?.code
  if (answer.status === 404 || answer.status === 405) {
    return {
      reason: `${label} answers ${answer.status}${code ? ` ${code}` : ''} (not on this build yet)`,
      missing: true,
    }
  }
  const message = answer.json?.errors?.[0]?.message ?? JSON.stringify(answer.json).slice(0, 200)
  return {
    reason: `${label} answered ${answer.status} (expected ${expected}): ${message}`,
    missing: false,
  }
}

/**
 * Places one order as the tenant's first customer: null when the endpoint
 * accepts it (202), else why an order scenario cannot run.
 */
export async function ordersUnavailable(ctx: BenchContext, tenant: SeedTenant) {
  const probe = await request(
    ctx,
    'POST',
    '/api/orders/',
    tenant.customers[0].token,
    JSON.parse(orderBody(tenant))
  )
  return unavailable('POST /api/orders/', probe, 202)
}
