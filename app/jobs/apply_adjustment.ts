import { currentTenant, withTenant } from '#tenancy/context'
import { MAX_STOCK, moveStock } from '#services/stock_ledger'
import { completeOutbox } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { STOCK_ADJUSTMENT_COLUMNS } from '#models/stock_adjustment'
import StockAdjustmentTransformer from '#transformers/stock_adjustment_transformer'
import { recordWebhookEvent } from '#webhooks/record_event'
import type { JobData } from '#queue/queues'

export type AdjustmentOutcome = 'applied' | 'rejected' | 'skipped'

/**
 * Applies one pending stock adjustment exactly once, in one tenant
 * transaction: the adjustment row is locked first (anything but `pending`
 * is left alone), then its product. A delta that would take the stock below
 * zero (or past the largest stock) marks it `rejected` with a reason and
 * moves nothing; otherwise an `adjustment` movement (unique per
 * adjustment) changes the stock and it is `applied`.
 */
export async function applyAdjustment({
  tenantId,
  refId: adjustmentId,
}: JobData): Promise<AdjustmentOutcome> {
  return withTenant(
    tenantId,
    async () => {
      const { trx } = currentTenant()
      const { rows: adjustments } = await trx.rawQuery(
        'select id, product_id, delta, reason, status from stock_adjustments where id = ? for update',
        [adjustmentId]
      )
      const adjustment = adjustments[0]
      if (!adjustment || adjustment.status !== 'pending') {
        await completeOutbox(JOBS['apply-adjustment'].name, adjustmentId)
        return 'skipped'
      }

      const { rows: products } = await trx.rawQuery(
        'select id, stock from products where id = ? for update',
        [adjustment.product_id]
      )
      const product = products[0]
      const next = product ? product.stock + adjustment.delta : null
      const reason =
        next === null
          ? 'The product no longer exists'
          : next < 0
            ? `Stock would go below 0 (stock ${product.stock}, delta ${adjustment.delta})`
            : next > MAX_STOCK
              ? `Stock would exceed ${MAX_STOCK} (stock ${product.stock}, delta ${adjustment.delta})`
              : null

      if (reason) {
        const { rows: rejected } = await trx.rawQuery(
          `update stock_adjustments set status = 'rejected', rejection_reason = ?, processed_at = now()
         where id = ? returning ${STOCK_ADJUSTMENT_COLUMNS.join(', ')}`,
          [reason, adjustmentId]
        )
        await completeOutbox(JOBS['apply-adjustment'].name, adjustmentId)
        await recordWebhookEvent(
          'stock_adjustment.rejected',
          new StockAdjustmentTransformer(rejected[0]).toObject()
        )
        return 'rejected'
      }

      await moveStock({
        productId: adjustment.product_id,
        delta: adjustment.delta,
        kind: 'adjustment',
        adjustmentId,
        reason: adjustment.reason,
      })
      const { rows: applied } = await trx.rawQuery(
        `update stock_adjustments set status = 'applied', processed_at = now() where id = ?
       returning ${STOCK_ADJUSTMENT_COLUMNS.join(', ')}`,
        [adjustmentId]
      )
      await completeOutbox(JOBS['apply-adjustment'].name, adjustmentId)
      await recordWebhookEvent(
        'stock_adjustment.applied',
        new StockAdjustmentTransformer(applied[0]).toObject()
      )
      return 'applied'
    },
    { limits: 'job' }
  )
}
