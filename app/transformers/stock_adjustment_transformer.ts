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

/**
 * The API shape of a stock adjustment: `{id, status}` as the contract
 * names, plus what a client polling it wants to know.
 */
export function stockAdjustmentJson(row: StockAdjustmentRow) {
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
