import { BaseTransformer } from '@adonisjs/core/transformers'
import type { StockMovementRow } from '#models/stock_movement'

/**
 * One line of a product's stock ledger.
 */
export default class StockMovementTransformer extends BaseTransformer<StockMovementRow> {
  toObject() {
    const row = this.resource
    return {
      id: row.id,
      delta: row.delta,
      reason: row.reason,
      kind: row.kind,
      order_id: row.order_id,
      created_at: row.created_at.toISOString(),
    }
  }
}
