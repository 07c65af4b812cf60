import { BaseTransformer } from '@adonisjs/core/transformers'
import type { StockAdjustmentRow } from '#models/stock_adjustment'

/**
 * A stock adjustment: `{id, status}` as the contract names, plus what a
 * client polling it wants to know.
 */
export default class StockAdjustmentTransformer extends BaseTransformer<StockAdjustmentRow> {
  toObject() {
    const row = this.resource
    return {
      id: row.id,
      status: row.status,
      product_id: row.product_id,
      delta: row.delta,
      reason: row.reason,
      rejection_reason: row.rejection_reason,
      requested_by: row.requested_by,
      created_at: row.created_at.toISOString(),
      processed_at: row.processed_at?.toISOString() ?? null,
    }
  }
}
