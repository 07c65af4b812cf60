import { queryBatch, tenantBatches } from '#tenancy/tenant_scan'

/**
 * What `webhooks:status` prints (and `queue:status` sums up): across
 * tenants, the deliveries by state, the oldest pending one, and the
 * endpoints that are failing (consecutive failed deliveries) or disabled.
 */
export interface WebhookStatusReport {
  deliveries: { pending: number; delivered: number; failed: number }
  oldest_pending: {
    tenant_id: number
    delivery_id: number
    age_seconds: number
    attempts: number
  } | null
  failing_endpoints: {
    tenant_id: number
    endpoint_id: number
    url: string
    is_active: boolean
    consecutive_failures: number
    disabled_reason: string | null
  }[]
}

const FAILING_PER_TENANT = 20

interface Row {
  tenant_id: number
  pending: number
  delivered: number
  failed: number
  oldest_id: number | null
  oldest_attempts: number | null
  age_seconds: number | null
  failing: {
    id: number
    url: string
    is_active: boolean
    consecutive_failures: number
    disabled_reason: string | null
  }[]
}

export async function webhookStatus(): Promise<WebhookStatusReport> {
  const report: WebhookStatusReport = {
    deliveries: { pending: 0, delivered: 0, failed: 0 },
    oldest_pending: null,
    failing_endpoints: [],
  }
  for await (const tenantIds of tenantBatches()) {
    const rows = await queryBatch<Row>(tenantIds, (schema, tenantId) => ({
      sql: `select ${tenantId}::bigint as tenant_id,
              counts.pending, counts.delivered, counts.failed,
              oldest.id as oldest_id, oldest.attempts as oldest_attempts,
              extract(epoch from now() - oldest.created_at)::int as age_seconds,
              (select coalesce(json_agg(f order by f.consecutive_failures desc, f.id), '[]'::json)
               from (select id, url, is_active, consecutive_failures, disabled_reason
                     from ${schema}.webhook_endpoints
                     where consecutive_failures > 0 or disabled_reason is not null
                     order by consecutive_failures desc, id limit ${FAILING_PER_TENANT}) f) as failing
            from (select
                    count(*) filter (where status = 'pending')::int as pending,
                    count(*) filter (where status = 'delivered')::int as delivered,
                    count(*) filter (where status = 'failed')::int as failed
                  from ${schema}.webhook_deliveries) counts
            left join lateral (
              select id, attempts, created_at from ${schema}.webhook_deliveries
              where status = 'pending' order by created_at, id limit 1
            ) oldest on true`,
      bindings: [],
    }))
    for (const row of rows) {
      report.deliveries.pending += row.pending
      report.deliveries.delivered += row.delivered
      report.deliveries.failed += row.failed
      if (row.oldest_id !== null && row.age_seconds !== null) {
        if (!report.oldest_pending || row.age_seconds > report.oldest_pending.age_seconds) {
          report.oldest_pending = {
            tenant_id: row.tenant_id,
            delivery_id: row.oldest_id,
            age_seconds: row.age_seconds,
            attempts: row.oldest_attempts ?? 0,
          }
        }
      }
      for (const endpoint of row.failing) {
        report.failing_endpoints.push({
          tenant_id: row.tenant_id,
          endpoint_id: endpoint.id,
          url: endpoint.url,
          is_active: endpoint.is_active,
          consecutive_failures: endpoint.consecutive_failures,
          disabled_reason: endpoint.disabled_reason,
        })
      }
    }
  }
  report.failing_endpoints.sort((a, b) => b.consecutive_failures - a.consecutive_failures)
  return report
}
