/**
 * A `stock_adjustments` row: a requested change of stock, applied or
 * rejected by the worker.
 */
export interface StockAdjustmentRow {
  id: number
  product_id: number
  delta: number
  reason: string
  status: string
  rejection_reason: string | null
  requested_by: number | null
  created_at: Date
  processed_at: Date | null
}

export const STOCK_ADJUSTMENT_COLUMNS: string[] = [
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
