/**
 * A `stock_movements` row as PostgreSQL returns it.
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

/**
 * One line of a product's stock ledger.
 */
export function stockMovementTransformer(row: StockMovementRow) {
  return {
    id: row.id,
    delta: row.delta,
    reason: row.reason,
    kind: row.kind,
    order_id: row.order_id,
    created_at: row.created_at.toISOString(),
  }
}
