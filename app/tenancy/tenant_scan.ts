import { platformDb } from '#tenancy/platform'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Background tasks (sweeper, queue status) that look at every tenant walk
 * `public.tenants` in id order, a batch at a time, and ask each batch one
 * UNION ALL query over the batch's schemas. They run on the owner role's
 * connection (the runtime role cannot see across tenants); request code
 * never does this: it only ever sees its own tenant's transaction.
 */
export const TENANT_BATCH = 100

export async function* tenantBatches(batchSize = TENANT_BATCH): AsyncGenerator<number[]> {
  let after = 0
  for (;;) {
    const { rows } = await platformDb().rawQuery<{ rows: { id: number }[] }>(
      'select id from public.tenants where id > ? order by id limit ?',
      [after, batchSize]
    )
    if (rows.length === 0) return
    yield rows.map((row) => row.id)
    after = rows[rows.length - 1].id
  }
}

/**
 * Runs `sqlFor(schema, tenantId)` for every tenant of the batch as one
 * UNION ALL query. Should one schema be broken (dropped mid-way), the batch
 * is asked again tenant by tenant, skipping the broken one.
 */
export async function queryBatch<Row>(
  tenantIds: number[],
  sqlFor: (schema: string, tenantId: number) => { sql: string; bindings: unknown[] },
  onError: (tenantId: number, error: unknown) => void = () => {}
): Promise<Row[]> {
  const parts = tenantIds.map((tenantId) => sqlFor(quoteIdent(tenantSchema(tenantId)), tenantId))
  try {
    const { rows } = await platformDb().rawQuery(
      parts.map((part) => `(${part.sql})`).join(' union all '),
      parts.flatMap((part) => part.bindings) as never
    )
    return rows
  } catch (error) {
    if (tenantIds.length === 1) {
      onError(tenantIds[0], error)
      return []
    }
    const rows: Row[] = []
    for (const tenantId of tenantIds) {
      rows.push(...(await queryBatch<Row>([tenantId], sqlFor, onError)))
    }
    return rows
  }
}
