import { currentTenant, withTenant } from '#tenancy/context'
import { MAX_STOCK, moveStockBatch } from '#services/stock_ledger'
import { completeOutbox } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import type { JobData } from '#queue/queues'

export type RestoreOutcome = 'restored' | 'skipped'

/**
 * Gives back the stock of a confirmed order that was cancelled, exactly
 * once: it restores what the order's own `order` movements took (a product
 * deleted since has nothing to restore), as `cancellation` movements. The
 * order row lock serialises deliveries of the job, the check for existing
 * `cancellation` movements makes a second delivery a no-op, and the unique
 * index (product_id, kind, order_id) backs both.
 */
export async function restoreStock({ tenantId, refId: orderId }: JobData): Promise<RestoreOutcome> {
  return withTenant(
    tenantId,
    async () => {
      const { trx } = currentTenant()
      const { rows: orders } = await trx.rawQuery(
        'select id, status from orders where id = ? for update',
        [orderId]
      )
      const order = orders[0]
      const { rows: done } = await trx.rawQuery(
        `select 1 from stock_movements where order_id = ? and kind = 'cancellation' limit 1`,
        [orderId]
      )
      if (!order || order.status !== 'cancelled' || done.length > 0) {
        await completeOutbox(JOBS['restore-stock'].name, orderId)
        return 'skipped'
      }

      const { rows: taken } = await trx.rawQuery<{ rows: { product_id: number; qty: number }[] }>(
        `select product_id, (-sum(delta))::int as qty from stock_movements
       where order_id = ? and kind = 'order' group by product_id order by product_id`,
        [orderId]
      )
      const stockOf = new Map<number, number>()
      if (taken.length > 0) {
        const { rows: locked } = await trx.rawQuery<{ rows: { id: number; stock: number }[] }>(
          `select id, stock from products where id in (${taken.map(() => '?').join(', ')}) order by id for update`,
          taken.map((line) => line.product_id)
        )
        for (const product of locked) stockOf.set(product.id, product.stock)
      }
      // A product whose stock was set near the integer maximum since the
      // order took its units gets back only what fits: the job must finish,
      // or the rest of the order's stock would never come back either.
      await moveStockBatch({
        kind: 'cancellation',
        reason: `order #${orderId} cancelled`,
        orderId,
        lines: taken
          .filter((line) => line.qty > 0 && stockOf.has(line.product_id))
          .map((line) => ({
            productId: line.product_id,
            delta: Math.min(line.qty, MAX_STOCK - stockOf.get(line.product_id)!),
          })),
      })
      await completeOutbox(JOBS['restore-stock'].name, orderId)
      return 'restored'
    },
    { limits: 'job' }
  )
}
