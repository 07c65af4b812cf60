import { currentTenant, withTenant } from '#tenancy/context'
import { movementCtes } from '#services/stock_ledger'
import type { JobData } from '#queue/queues'
import { outboxDoneSql } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { recordOrderEvent } from '#services/order_events'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'

export type ConfirmOutcome = 'confirmed' | 'rejected' | 'skipped'

interface Row {
  status: string | null
  product_id: number | null
  qty: number
  sku: string
  name: string
  stock: number
  line_count: number
}

interface Line {
  product_id: number
  qty: number
  sku: string
  name: string
  stock: number
}

/**
 * Locks the order, then, if it is still pending, its lines' products in
 * ascending id order (PostgreSQL applies ORDER BY before the locking
 * clause, so rows are locked as they come out sorted), and reads both.
 * Placement merges duplicate lines, so a product appears once. A line whose
 * product was deleted since is missing from the rows; `line_count` tells.
 */
const LOCK_SQL = `
  with target as (select id, status from orders where id = ? for update)
  select t.status, l.product_id, l.qty, l.sku, l.name, l.stock,
         (select count(*) from order_items where order_id = t.id) as line_count
  from target t
  left join lateral (
    select i.product_id, i.qty, i.sku, i.name, p.stock
    from order_items i
    join products p on p.id = i.product_id
    where i.order_id = t.id and t.status = 'pending'
    order by p.id
    for update of p
  ) l on true`

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
 * Four round trips whatever the number of lines: BEGIN with the tenant
 * entry; the locks and reads; the ledger, the final state and the outbox
 * in one statement; COMMIT.
 */
export async function confirmOrder({ tenantId, refId: orderId }: JobData): Promise<ConfirmOutcome> {
  return withTenant(
    tenantId,
    async () => {
      const { trx } = currentTenant()
      const { rows } = await trx.rawQuery<{ rows: Row[] }>(LOCK_SQL, [orderId])
      if (rows[0]?.status !== 'pending') {
        await finish(trx, orderId, null)
        return 'skipped'
      }

      const lines = rows.filter((row): row is Row & Line => row.product_id !== null)
      const reason =
        insufficientStock(lines) ??
        (lines.length === rows[0].line_count && lines.length > 0
          ? null
          : await missingProduct(trx, orderId))
      if (reason) {
        await finish(trx, orderId, { status: 'rejected', reason, lines: [] })
        await recordOrderEvent('order.rejected', orderId)
        return 'rejected'
      }

      await finish(trx, orderId, { status: 'confirmed', reason: null, lines })
      await recordOrderEvent('order.confirmed', orderId)
      return 'confirmed'
    },
    { limits: 'job' }
  )
}

/**
 * In one statement: the stock movements (if any), the order's final state
 * (if any), and the outbox row marked done.
 */
async function finish(
  trx: TransactionClientContract,
  orderId: number,
  outcome: { status: 'confirmed' | 'rejected'; reason: string | null; lines: Line[] } | null
) {
  const ctes: string[] = []
  const bindings: unknown[] = []
  if (outcome) {
    const movements = movementCtes({
      kind: 'order',
      reason: `order #${orderId}`,
      orderId,
      lines: outcome.lines.map((line) => ({ productId: line.product_id, delta: -line.qty })),
    })
    if (movements) {
      ctes.push(movements.sql)
      bindings.push(...movements.bindings)
    }
    ctes.push(`finished as (
      update orders
      set status = ?, rejection_reason = ?, updated_at = now(),
          confirmed_at = case when ? = 'confirmed' then now() else confirmed_at end
      where id = ?
    )`)
    bindings.push(outcome.status, outcome.reason, outcome.status, orderId)
  }
  const sql = `${ctes.length ? `with ${ctes.join(',\n')}\n` : ''}${outboxDoneSql(JOBS['confirm-order'].name)}`
  await trx.rawQuery(sql, [...bindings, orderId] as never)
}

function insufficientStock(lines: Line[]): string | null {
  for (const line of lines) {
    if (line.stock < line.qty) {
      return `Insufficient stock for product ${line.product_id} (${line.sku}, "${line.name}"): ${line.qty} requested, ${line.stock} available`
    }
  }
  return null
}

/**
 * Names a line whose product no longer exists, or says the order has no
 * lines.
 */
async function missingProduct(trx: TransactionClientContract, orderId: number): Promise<string> {
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
