/**
 * The API shape of an order (see CONTRACT.md, Orders). Money stays a
 * decimal string from PostgreSQL numeric ("12.50"), never a float.
 */
export interface OrderItemJson {
  product_id: number
  sku: string
  name: string
  unit_price: string
  qty: number
  line_total: string
}

export interface OrderRow {
  id: number
  status: string
  customer_id: number
  assigned_to: number | null
  items: OrderItemJson[]
  total: string
  note: string | null
  rejection_reason: string | null
  created_at: Date
  confirmed_at: Date | null
  updated_at: Date
}

export function orderJson(row: OrderRow) {
  return {
    id: row.id,
    status: row.status,
    customer_id: row.customer_id,
    assigned_to: row.assigned_to,
    items: row.items,
    total: row.total,
    note: row.note,
    rejection_reason: row.rejection_reason,
    created_at: row.created_at.toISOString(),
    confirmed_at: row.confirmed_at?.toISOString() ?? null,
    updated_at: row.updated_at.toISOString(),
  }
}

export type OrderJson = ReturnType<typeof orderJson>
