import AppException from '#exceptions/app_exception'
import { currentTenant, tenantQuery } from '#tenancy/context'
import { paginate, type PageRequest } from '#services/pagination'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#jobs/main'
import {
  stockAdjustmentJson,
  type StockAdjustmentRow,
} from '#transformers/stock_adjustment_transformer'
import type { AuthPrincipal } from '#auth/jwt_guard'

export const ADJUSTMENT_COLUMNS = [
  'id',
  'product_id',
  'delta',
  'reason',
  'status',
  'rejection_reason',
  'requested_by',
  'created_at',
  'processed_at',
]

/**
 * The product an adjustment is about, or 404. Customers never see an
 * inactive product.
 */
export async function findProduct(principal: AuthPrincipal, productId: number) {
  const product: { id: number; assigned_to: number | null; is_active: boolean } | null =
    await tenantQuery('products')
      .select('id', 'assigned_to', 'is_active')
      .where('id', productId)
      .first()
  if (!product || (principal.role === 'customer' && !product.is_active)) {
    throw AppException.notFound('Product not found')
  }
  return product
}

/**
 * Records a stock adjustment request (`pending`) and its outbox row in one
 * statement; the worker applies it once the transaction has committed.
 */
export async function requestAdjustment(
  principal: AuthPrincipal,
  productId: number,
  input: { delta: number; reason: string }
) {
  const { rows } = await currentTenant().trx.rawQuery(
    `with adjustment as (
       insert into stock_adjustments (product_id, delta, reason, requested_by)
       values (?, ?, ?, ?)
       returning ${ADJUSTMENT_COLUMNS.join(', ')}
     ), outbox_row as (
       ${outboxInsertSql(JOBS['apply-adjustment'].name, 'adjustment')}
     )
     select * from adjustment`,
    [productId, input.delta, input.reason, principal.id]
  )
  relayAfterCommit(JOBS['apply-adjustment'], rows[0].id)
  return stockAdjustmentJson(rows[0])
}

export async function findAdjustment(productId: number, adjustmentId: number) {
  const row = await tenantQuery('stock_adjustments')
    .select(ADJUSTMENT_COLUMNS)
    .where({ id: adjustmentId, product_id: productId })
    .first()
  if (!row) throw AppException.notFound('Stock adjustment not found')
  return stockAdjustmentJson(row)
}

export async function listAdjustments(productId: number, page: PageRequest) {
  const query = tenantQuery('stock_adjustments')
    .select(ADJUSTMENT_COLUMNS)
    .where('product_id', productId)
    .orderBy('id', 'desc')
  return paginate<StockAdjustmentRow, ReturnType<typeof stockAdjustmentJson>>(
    query,
    page,
    stockAdjustmentJson
  )
}
