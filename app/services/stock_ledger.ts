import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { currentTenant } from '#tenancy/context'
import { MAX_STOCK } from '#models/product'

/**
 * Stock is a ledger: `products.stock` changes only together with a
 * `stock_movements` row of the same delta, in the same statement, so the
 * movements of a product always sum to its stock. `stock >= 0` is a CHECK
 * constraint: a movement that would go below zero fails (SQLSTATE 23514).
 *
 * Callers that decide on the current stock (orders, adjustments) lock the
 * product rows first (`select … for update`, ascending ids).
 */
export { MAX_STOCK }

export type MovementKind = 'initial' | 'manual_set' | 'order' | 'cancellation' | 'adjustment'

export interface Movement {
  productId: number
  delta: number
  kind: MovementKind
  reason?: string
  orderId?: number | null
  adjustmentId?: number | null
}

/**
 * Applies one movement. Returns the product's new stock, or null when the
 * product does not exist. A zero delta writes nothing.
 *
 * The same statement as a batch of one line (`movementCtes`), read back
 * with a top-level SELECT: Citus routes that whole statement to the
 * tenant's worker, where an INSERT … SELECT … RETURNING over the CTE
 * would be planned through the coordinator and lose the CTE.
 */
export async function moveStock(
  movement: Movement,
  trx: TransactionClientContract = currentTenant().trx
): Promise<number | null> {
  const ctes = movementCtes({
    kind: movement.kind,
    reason: movement.reason ?? '',
    orderId: movement.orderId,
    adjustmentId: movement.adjustmentId,
    lines: [{ productId: movement.productId, delta: movement.delta }],
  })
  if (!ctes) {
    const { rows } = await trx.rawQuery('select stock from products where id = ?', [
      movement.productId,
    ])
    return rows[0]?.stock ?? null
  }
  const { rows } = await trx.rawQuery(
    `with ${ctes.sql} select stock from moved`,
    ctes.bindings as never
  )
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

export interface MovementBatch {
  kind: MovementKind
  reason: string
  orderId?: number | null
  adjustmentId?: number | null
  /**
   * The lines. A line may name its own order and reason (the orders of one
   * confirmation batch); otherwise the batch's apply. A product may appear
   * on several lines when they are of different orders.
   */
  lines: { productId: number; delta: number; orderId?: number | null; reason?: string }[]
}

/**
 * The movements of one order (or adjustment), or of several orders, as
 * common table expressions: `moved` (the product rows, each changed once
 * by the sum of its lines) and `movements` (one ledger row per line), so a
 * caller can apply them in the same statement as its own change of state.
 * The caller holds the product rows locked (ascending ids). Returns null
 * when there is nothing to move.
 *
 * This is the only way the ledger is written (`moveStock` and
 * `moveStockBatch` use it too). Callers end the statement with a
 * top-level SELECT, UPDATE or DELETE, never an INSERT … SELECT from these
 * CTEs: Citus plans that through the coordinator and loses the CTE.
 */
export function movementCtes(batch: MovementBatch): { sql: string; bindings: unknown[] } | null {
  const lines = batch.lines.filter((line) => line.delta !== 0)
  if (lines.length === 0) return null
  const rows = lines.map((line) => ({
    product_id: line.productId,
    delta: line.delta,
    order_id: line.orderId ?? batch.orderId ?? null,
    reason: line.reason ?? batch.reason,
  }))
  const integers = rows.flatMap((row) =>
    row.order_id === null ? [row.product_id, row.delta] : [row.product_id, row.delta, row.order_id]
  )
  if (!integers.every(Number.isSafeInteger)) {
    throw new TypeError('Stock movements take integer ids and deltas')
  }
  return {
    sql: `movement_lines as (
      select * from json_to_recordset(?::json)
        as l(product_id bigint, delta integer, order_id bigint, reason text)
    ),
    moved as (
      update products p set stock = p.stock + m.delta, updated_at = now()
      from (
        select product_id, sum(delta)::integer as delta from movement_lines group by product_id
      ) as m
      where p.id = m.product_id
      returning p.id, m.delta, p.stock
    ),
    movements as (
      insert into stock_movements (product_id, delta, reason, kind, order_id, adjustment_id)
      select l.product_id, l.delta, l.reason, ?, l.order_id, ?
      from movement_lines l join moved on moved.id = l.product_id
    )`,
    bindings: [JSON.stringify(rows), batch.kind, batch.adjustmentId ?? null],
  }
}

/**
 * Applies the movements of one order (or adjustment) in one statement:
 * every product row and its movement together, whatever the number of
 * lines.
 */
export async function moveStockBatch(
  batch: MovementBatch,
  trx: TransactionClientContract = currentTenant().trx
): Promise<void> {
  const ctes = movementCtes(batch)
  if (!ctes) return
  await trx.rawQuery(`with ${ctes.sql} select count(*) from moved`, ctes.bindings as never)
}
