import { withTenant } from '#tenancy/context'
import { moveStockBatch } from '#services/stock_ledger'
import type { JobData } from '#queue/queues'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'

export type ConfirmOutcome = 'confirmed' | 'rejected' | 'skipped'

interface Line {
  product_id: number
  qty: number
  sku: string
  name: string
  stock: number
  line_count: number
}

/**
 * The order's lines with their products, locked in ascending product id
 * order: PostgreSQL applies ORDER BY before the locking clause, so rows are
 * locked as they come out sorted. Placement merges duplicate lines, so a
 * product appears once. A line whose product was deleted since is missing
 * from the result; `line_count` tells.
 */
const LINES_SQL = `
  select i.product_id, i.qty, i.sku, i.name, p.stock,
         (select count(*) from order_items where order_id = i.order_id) as line_count
  from order_items i
  join products p on p.id = i.product_id
  where i.order_id = ?
  order by p.id
  for update of p`

/**
 * Marks the order final and its outbox row done, in one statement.
 */
const FINISH_SQL = `
  with finished as (
    update orders
    set status = ?, rejection_reason = ?, updated_at = now(),
        confirmed_at = case when ? = 'confirmed' then now() else confirmed_at end
    where id = ?
  )
  delete from outbox where job = 'confirm-order' and ref_id = ?`

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
 *
 * Five round trips whatever the number of lines: BEGIN with the tenant
 * entry, the order lock, the lines with their product locks, the ledger,
 * the final state (and COMMIT).
 */
export async function confirmOrder({ tenantId, refId: orderId }: JobData): Promise<ConfirmOutcome> {
  return withTenant(tenantId, async (trx) => {
    const { rows: orders } = await trx.rawQuery(
      'select status from orders where id = ? for update',
      [orderId]
    )
    if (orders[0]?.status !== 'pending') {
      await finish(trx, orderId, null)
      return 'skipped'
    }

    const { rows: lines } = await trx.rawQuery<{ rows: Line[] }>(LINES_SQL, [orderId])
    const reason = rejectionReason(lines) ?? (await missingProduct(trx, orderId, lines))
    if (reason) {
      await finish(trx, orderId, { status: 'rejected', reason })
      return 'rejected'
    }

    await moveStockBatch(
      {
        kind: 'order',
        reason: `order #${orderId}`,
        orderId,
        lines: lines.map((line) => ({ productId: line.product_id, delta: -line.qty })),
      },
      trx
    )
    await finish(trx, orderId, { status: 'confirmed', reason: null })
    return 'confirmed'
  })
}

/**
 * Sets the final state (if any) and deletes the outbox row.
 */
async function finish(
  trx: TransactionClientContract,
  orderId: number,
  outcome: { status: 'confirmed' | 'rejected'; reason: string | null } | null
) {
  if (!outcome) {
    await trx.rawQuery(`delete from outbox where job = 'confirm-order' and ref_id = ?`, [orderId])
    return
  }
  const bindings: unknown[] = [outcome.status, outcome.reason, outcome.status, orderId, orderId]
  await trx.rawQuery(FINISH_SQL, bindings as never)
}

function rejectionReason(lines: Line[]): string | null {
  for (const line of lines) {
    if (line.stock < line.qty) {
      return `Insufficient stock for product ${line.product_id} (${line.sku}, "${line.name}"): ${line.qty} requested, ${line.stock} available`
    }
  }
  return null
}

/**
 * Names a line whose product no longer exists (or an order without
 * lines); null when every line's product was found.
 */
async function missingProduct(
  trx: TransactionClientContract,
  orderId: number,
  found: Line[]
): Promise<string | null> {
  if (found.length > 0 && found.length === found[0].line_count) return null
  const { rows } = await trx.rawQuery(
    `select product_id, sku, name from order_items i
     where order_id = ? and not exists (select 1 from products p where p.id = i.product_id)
     order by product_id limit 1`,
    [orderId]
  )
  const line = rows[0]
  return line
    ? `Product ${line.product_id} (${line.sku}, "${line.name}") no longer exists`
    : 'The order has no items'
}
