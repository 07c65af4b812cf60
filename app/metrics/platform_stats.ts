import { platformDb } from '#tenancy/platform'
import { queryBatch, tenantBatches } from '#queue/tenant_scan'

/**
 * The figures of the metrics that span tenants: tenants by status, and the
 * outbox backlog (rows, and the age of the oldest) summed over every
 * tenant schema. They are read from the platform level, never through a
 * tenant transaction: `public.tenants` once, then each batch of 100
 * schemas in one UNION ALL query (app/queue/tenant_scan.ts).
 *
 * Every cross-tenant read of the metrics is in `readPlatformStats`, and
 * only there, so that a deployment running the API under a restricted
 * role can give this one function its own narrow privileged path (a
 * SECURITY DEFINER function, a monitoring role) without touching the rest.
 * No figure is kept per tenant: metrics never carry a tenant label.
 */
export interface PlatformStats {
  tenants: Record<string, number>
  outbox: { rows: number; oldestAgeSeconds: number }
}

export async function readPlatformStats(): Promise<PlatformStats> {
  // The owner role (docs/design/isolation.md): the runtime role sees no
  // tenant row outside a tenant transaction.
  const { rows: statuses } = await platformDb().rawQuery<{
    rows: { status: string; count: number }[]
  }>('select status, count(*)::int as count from public.tenants group by status')
  const tenants: Record<string, number> = { active: 0, suspended: 0 }
  for (const row of statuses) tenants[row.status] = row.count

  let rows = 0
  let oldestAgeSeconds = 0
  for await (const tenantIds of tenantBatches()) {
    const counts = await queryBatch<{ rows: number; age_seconds: number | null }>(
      tenantIds,
      (schema) => ({
        sql: `select count(*)::int as rows,
                extract(epoch from now() - min(created_at))::float8 as age_seconds
              from ${schema}.outbox`,
        bindings: [],
      })
    )
    for (const count of counts) {
      rows += count.rows
      if (count.age_seconds !== null) {
        oldestAgeSeconds = Math.max(oldestAgeSeconds, count.age_seconds)
      }
    }
  }
  return { tenants, outbox: { rows, oldestAgeSeconds } }
}

/**
 * Scrapes share one read, at most STATS_MAX_AGE_MS old: with thousands of
 * tenants the walk costs one query per 100 schemas, and several
 * Prometheus servers scraping at once must not multiply it.
 */
export const STATS_MAX_AGE_MS = 5_000

let cached: { at: number; stats: Promise<PlatformStats> } | undefined

export function platformStats(): Promise<PlatformStats> {
  if (!cached || Date.now() - cached.at > STATS_MAX_AGE_MS) {
    const entry = {
      at: Date.now(),
      stats: readPlatformStats().catch((error) => {
        if (cached === entry) cached = undefined
        throw error
      }),
    }
    cached = entry
  }
  return cached.stats
}

/**
 * Drops the shared read (tests, which look right after a change).
 */
export function forgetPlatformStats() {
  cached = undefined
}
