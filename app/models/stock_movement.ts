/**
 * A `stock_movements` row (one line of a product's stock ledger).
 */
export interface StockMovementRow {
  id: number
  delta: number
  reason: string
  kind: string
  order_id: number | null
  created_at: Date
}

export const STOCK_MOVEMENT_COLUMNS: string[] = [
  'id',
  'delta',
  'reason',
  'kind',
  'order_id',
  'created_at',
]
