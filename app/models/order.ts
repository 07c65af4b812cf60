/**
 * The states of an order (CONTRACT.md, Orders).
 */
export const ORDER_STATUSES = [
  'pending',
  'confirmed',
  'rejected',
  'shipped',
  'delivered',
  'cancelled',
] as const
export type OrderStatus = (typeof ORDER_STATUSES)[number]

/**
 * One line of an order as the API shows it: a snapshot of the product
 * taken when the order was placed. Money is text ("12.50"), never a float.
 */
export interface OrderItemRow {
  product_id: number
  sku: string
  name: string
  unit_price: string
  qty: number
  line_total: string
}

/**
 * An order as ORDER_COLUMNS reads it, its items included.
 */
export interface OrderRow {
  id: number
  status: OrderStatus
  customer_id: number
  assigned_to: number | null
  items: OrderItemRow[]
  total: string
  note: string | null
  rejection_reason: string | null
  created_at: Date
  confirmed_at: Date | null
  updated_at: Date
}

/**
 * The columns of an order (alias `o`), items included, read in one query.
 * Money is cast to text so it never passes through a float. `items` is
 * the FROM of the item rows (alias `i`): the order's stored items by
 * default, or the rows a statement has just written (order placement).
 */
export function orderColumns(items = 'order_items i where i.order_id = o.id'): string {
  return `o.id, o.status, o.customer_id, o.assigned_to, o.total::text as total, o.note,
  o.rejection_reason, o.created_at, o.confirmed_at, o.updated_at,
  coalesce((
    select json_agg(json_build_object(
      'product_id', i.product_id, 'sku', i.sku, 'name', i.name,
      'unit_price', i.unit_price::text, 'qty', i.qty, 'line_total', i.line_total::text
    ) order by i.id)
    from ${items}
  ), '[]'::json) as items`
}

export const ORDER_COLUMNS = orderColumns()

/**
 * An order locked for a change of state: what the rules of its lifecycle
 * and its policy need.
 */
export interface LockedOrderRow {
  id: number
  status: OrderStatus
  customer_id: number
  assigned_to: number | null
  confirmed_at: Date | null
}
