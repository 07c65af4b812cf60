import { withTenant } from '#tenancy/context'
import { moveStock } from '#services/stock_ledger'
import { completeOutbox } from '#queue/outbox'
import type { JobData } from '#queue/queues'

export type ConfirmOutcome = 'confirmed' | 'rejected' | 'skipped'

interface Line {
  product_id: number
  qty: number
  sku: string
  name: string
}

interface LockedProduct {
  id: number
  stock: number
}

/**
 * Confirms or rejects one pending order, in one tenant transaction:
 * - the order row is locked first; anything but `pending` is left alone
 *   (a second delivery of the job changes nothing);
 * - the products are locked in ascending id order, so two orders over the
 *   same products never wait on each other in a cycle;
 * - every line has enough stock (and its product still exists): every line
 *   is taken from stock through the ledger (kind `order`, once per product
 *   and order by a unique index) and the order is `confirmed`; else it is
 *   `rejected` with a reason naming the product, and no stock moves.
 * The outbox row is deleted in the same transaction.
 */
export async function confirmOrder({ tenantId, refId: orderId }: JobData): Promise<ConfirmOutcome> {
  return withTenant(tenantId, async (trx) => {
    const { rows: orders } = await trx.rawQuery(
      'select id, status from orders where id = ? for update',
      [orderId]
    )
    const order = orders[0]
    if (!order || order.status !== 'pending') {
      await completeOutbox('confirm-order', orderId)
      return 'skipped'
    }

    const { rows: lines } = await trx.rawQuery<{ rows: Line[] }>(
      `select product_id, sum(qty)::int as qty, min(sku) as sku, min(name) as name
       from order_items where order_id = ? group by product_id order by product_id`,
      [orderId]
    )
    const { rows: products } = await trx.rawQuery<{ rows: LockedProduct[] }>(
      `select id, stock from products where id in (${lines.map(() => '?').join(', ') || 'null'})
       order by id for update`,
      lines.map((line) => line.product_id)
    )
    const stockOf = new Map(products.map((product) => [product.id, product.stock]))

    const reason = rejectionReason(lines, stockOf)
    if (reason) {
      await trx.rawQuery(
        `update orders set status = 'rejected', rejection_reason = ?, updated_at = now() where id = ?`,
        [reason, orderId]
      )
      await completeOutbox('confirm-order', orderId)
      return 'rejected'
    }

    for (const line of lines) {
      await moveStock(
        {
          productId: line.product_id,
          delta: -line.qty,
          kind: 'order',
          orderId,
          reason: `order #${orderId}`,
        },
        trx
      )
    }
    await trx.rawQuery(
      `update orders set status = 'confirmed', confirmed_at = now(), updated_at = now() where id = ?`,
      [orderId]
    )
    await completeOutbox('confirm-order', orderId)
    return 'confirmed'
  })
}

function rejectionReason(lines: Line[], stockOf: Map<number, number>): string | null {
  if (lines.length === 0) return 'The order has no items'
  for (const line of lines) {
    const stock = stockOf.get(line.product_id)
    if (stock === undefined) {
      return `Product ${line.product_id} (${line.sku}, "${line.name}") no longer exists`
    }
    if (stock < line.qty) {
      return `Insufficient stock for product ${line.product_id} (${line.sku}, "${line.name}"): ${line.qty} requested, ${stock} available`
    }
  }
  return null
}
