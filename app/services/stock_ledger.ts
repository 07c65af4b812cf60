import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { currentTenant } from '#tenancy/context'

/**
 * Stock is a ledger: `products.stock` changes only together with a
 * `stock_movements` row of the same delta, in the same statement, so the
 * movements of a product always sum to its stock. `stock >= 0` is a CHECK
 * constraint: a movement that would go below zero fails (SQLSTATE 23514).
 *
 * Callers that decide on the current stock (orders, adjustments) lock the
 * product rows first (`select … for update`, ascending ids).
 */
/**
 * `products.stock` is a PostgreSQL integer.
 */
export const MAX_STOCK = 2_147_483_647

export type MovementKind = 'initial' | 'manual_set' | 'order' | 'cancellation' | 'adjustment'

export interface Movement {
  productId: number
  delta: number
  kind: MovementKind
  reason?: string
  orderId?: number | null
  adjustmentId?: number | null
}

const MOVE_SQL = `
  with moved as (
    update products set stock = stock + ?, updated_at = now()
    where id = ?
    returning id, stock
  )
  insert into stock_movements (product_id, delta, reason, kind, order_id, adjustment_id)
  select id, ?, ?, ?, ?, ? from moved
  returning id, product_id, (select stock from moved) as stock`

/**
 * Applies one movement. Returns the product's new stock, or null when the
 * product does not exist. A zero delta writes nothing.
 */
export async function moveStock(
  movement: Movement,
  trx: TransactionClientContract = currentTenant().trx
): Promise<number | null> {
  if (movement.delta === 0) {
    const { rows } = await trx.rawQuery('select stock from products where id = ?', [
      movement.productId,
    ])
    return rows[0]?.stock ?? null
  }
  const bindings: unknown[] = [
    movement.delta,
    movement.productId,
    movement.delta,
    movement.reason ?? '',
    movement.kind,
    movement.orderId ?? null,
    movement.adjustmentId ?? null,
  ]
  const { rows } = await trx.rawQuery(MOVE_SQL, bindings as never)
  return rows[0]?.stock ?? null
}

/**
 * Records the opening stock of a product just created in this transaction.
 */
export async function recordInitialStock(
  productId: number,
  stock: number,
  trx: TransactionClientContract = currentTenant().trx
) {
  if (stock === 0) return
  await trx.rawQuery(
    `insert into stock_movements (product_id, delta, reason, kind) values (?, ?, 'initial stock', 'initial')`,
    [productId, stock]
  )
}
