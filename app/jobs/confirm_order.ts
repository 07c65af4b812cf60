import { currentTenant, withTenant } from '#tenancy/context'
import { movementCtes } from '#services/stock_ledger'
import type { JobData, JobResult } from '#queue/queues'
import { outboxDoneManySql, outboxRefsSql } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { recordOrderEvents } from '#services/order_events'
import { subscribersOf } from '#webhooks/record_event'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'

export type ConfirmOutcome = 'confirmed' | 'rejected' | 'skipped'

/**
 * How many pending orders of one tenant a worker's confirmation job takes
 * in one transaction at most: its own and up to 31 others (docs/design/outbox.md,
 * "Confirming in batches").
 */
export const CONFIRM_BATCH_SIZE = 32

/**
 * What one confirmation transaction did: the outcome of the job's own
 * order, and the other orders of the tenant it confirmed or rejected too.
 */
export interface ConfirmResult {
  outcome: ConfirmOutcome
  batch: { refId: number; outcome: 'confirmed' | 'rejected' }[]
}

interface Row {
  order_id: number
  is_own: boolean
  status: string
  product_id: number | null
  qty: number | null
  sku: string | null
  name: string | null
  stock: number | null
  confirmed_subscribed: boolean
  rejected_subscribed: boolean
}

interface Decision {
  orderId: number
  status: 'confirmed' | 'rejected'
  reason: string | null
  lines: { productId: number; qty: number }[]
}

const JOB = JOBS['confirm-order'].name

/**
 * Locks, in this order:
 * 1. the job's own order (waiting for it if another transaction holds it);
 * 2. then up to `limit` other pending orders of the tenant that still have
 *    an outbox row, oldest first, skipping any another transaction holds
 *    (`skip locked`: a batch never waits on an order, so two batches never
 *    wait on each other's orders). The lateral reference to `own` makes
 *    PostgreSQL lock the own order first;
 * 3. then every product of the pending ones, in ascending id order across
 *    the whole batch (the sort runs before the locking clause, and after
 *    the orders are read), so two batches over the same products never
 *    wait on each other in a cycle.
 * A row per line of each pending order (one row with no line for an order
 * without lines, or for the own order when it is not pending); a line whose
 * product was deleted since has no stock. Whether an active endpoint
 * subscribes to each event rides along, so a tenant without webhooks pays
 * no query for them.
 */
const LOCK_SQL = `
  with own as (
    select id, status from orders where id = ? for update
  ),
  others as (
    select o.id, o.status
    from own
    cross join lateral (
      select o.id, o.status
      from (${outboxRefsSql(JOB)}) x
      join orders o on o.id = x.ref_id
      where x.ref_id <> own.id and o.status = 'pending'
      order by x.ref_id
      limit ?
      for update of o skip locked
    ) o
  ),
  batch as (
    select id, status, true as is_own from own
    union all
    select id, status, false from others
  ),
  locked as (
    select p.id, p.stock from products p
    where p.id in (
      select i.product_id from order_items i
      where i.order_id in (select id from batch where status = 'pending')
    )
    order by p.id
    for update
  )
  select b.id as order_id, b.is_own, b.status,
         i.product_id, i.qty, i.sku, i.name, l.stock,
         exists (select 1 from webhook_endpoints e where e.is_active and e.events && ?::text[])
           as confirmed_subscribed,
         exists (select 1 from webhook_endpoints e where e.is_active and e.events && ?::text[])
           as rejected_subscribed
  from batch b
  left join order_items i on i.order_id = b.id and b.status = 'pending'
  left join locked l on l.id = i.product_id
  order by b.id, i.product_id`

/**
 * Confirms or rejects one pending order (a direct call: no batch). See
 * `confirmOrders`.
 */
export async function confirmOrder(data: JobData): Promise<ConfirmOutcome> {
  const { outcome } = await confirmOrders(data, 1)
  return outcome
}

/**
 * The worker's handler: the job's order and up to CONFIRM_BATCH_SIZE - 1
 * other pending orders of its tenant in one transaction; the worker then
 * finishes the other orders' jobs (app/queue/worker.ts).
 */
export async function confirmOrderJob(data: JobData): Promise<JobResult> {
  const { outcome, batch } = await confirmOrders(data, CONFIRM_BATCH_SIZE)
  return { outcome, alsoDone: batch }
}

/**
 * Confirms or rejects the job's order and up to `batchSize - 1` other
 * pending orders of the tenant, in one tenant transaction:
 * - the orders and their products are locked as LOCK_SQL says; an own
 *   order that is no longer `pending` is left alone (a second delivery of
 *   the job changes nothing: 'skipped'), the others are pending by
 *   construction;
 * - the orders are decided in ascending id order, each against the stock
 *   the earlier ones of the batch left: every line has enough stock (and
 *   its product still exists): every line is taken from stock through the
 *   ledger (kind `order`, once per product and order by a unique index)
 *   and the order is `confirmed`; else it is `rejected` with a reason
 *   naming the product, and no stock moves;
 * - every order's final state, the movements and the outbox rows (deleted)
 *   in one statement, then each order's webhook event.
 *
 * Four round trips whatever the number of orders and lines: BEGIN with the
 * tenant entry; the locks and reads; the ledger, the final states and the
 * outbox in one statement; COMMIT (plus, when an endpoint subscribes to
 * them, two per outcome for the events of the whole batch: the orders'
 * read and the events' statement).
 */
export async function confirmOrders(
  { tenantId, refId: orderId }: JobData,
  batchSize: number
): Promise<ConfirmResult> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new TypeError(`Invalid batch size: ${batchSize}`)
  }
  return withTenant(
    tenantId,
    async () => {
      const { trx } = currentTenant()
      const { rows } = await trx.rawQuery<{ rows: Row[] }>(LOCK_SQL, [
        orderId,
        batchSize - 1,
        subscribersOf('order.confirmed'),
        subscribersOf('order.rejected'),
      ])
      const decisions = decide(rows)
      await finish(trx, orderId, decisions)

      const subscribed = {
        confirmed: rows[0]?.confirmed_subscribed === true,
        rejected: rows[0]?.rejected_subscribed === true,
      }
      for (const status of ['confirmed', 'rejected'] as const) {
        if (!subscribed[status]) continue
        const ids = decisions
          .filter((decision) => decision.status === status)
          .map((decision) => decision.orderId)
        await recordOrderEvents(`order.${status}`, ids)
      }

      const own = decisions.find((decision) => decision.orderId === orderId)
      return {
        outcome: own?.status ?? 'skipped',
        batch: decisions
          .filter((decision) => decision.orderId !== orderId)
          .map((decision) => ({ refId: decision.orderId, outcome: decision.status })),
      }
    },
    { limits: 'job' }
  )
}

/**
 * Decides every pending order of the batch, in ascending id order, against
 * the stock left by the ones before it.
 */
function decide(rows: Row[]): Decision[] {
  const stock = new Map<number, number>()
  for (const row of rows) {
    if (row.product_id !== null && row.stock !== null) stock.set(row.product_id, row.stock)
  }
  const orders = new Map<number, Row[]>()
  for (const row of rows) {
    if (row.status !== 'pending') continue
    const lines = orders.get(row.order_id) ?? []
    if (row.product_id !== null) lines.push(row)
    orders.set(row.order_id, lines)
  }

  const decisions: Decision[] = []
  for (const [orderId, lines] of [...orders].sort(([a], [b]) => a - b)) {
    const reason = rejectionReason(lines, stock)
    if (reason) {
      decisions.push({ orderId, status: 'rejected', reason, lines: [] })
      continue
    }
    for (const line of lines) stock.set(line.product_id!, stock.get(line.product_id!)! - line.qty!)
    decisions.push({
      orderId,
      status: 'confirmed',
      reason: null,
      lines: lines.map((line) => ({ productId: line.product_id!, qty: line.qty! })),
    })
  }
  return decisions
}

/**
 * Why an order cannot be confirmed against `stock`, or null: a line with
 * less stock than it asks for (lowest product id first), else a line whose
 * product no longer exists, else no lines at all.
 */
function rejectionReason(lines: Row[], stock: Map<number, number>): string | null {
  for (const line of lines) {
    const available = stock.get(line.product_id!)
    if (available !== undefined && available < line.qty!) {
      return `Insufficient stock for product ${line.product_id} (${line.sku}, "${line.name}"): ${line.qty} requested, ${available} available`
    }
  }
  const missing = lines.find((line) => line.stock === null)
  if (missing) {
    return `Product ${missing.product_id} (${missing.sku}, "${missing.name}") no longer exists`
  }
  return lines.length === 0 ? 'The order has no items' : null
}

/**
 * In one statement: the stock movements of the confirmed orders (if any),
 * every decided order's final state, and the outbox rows of the batch (the
 * own order's too, whatever its state) deleted.
 */
async function finish(trx: TransactionClientContract, orderId: number, decisions: Decision[]) {
  const ctes: string[] = []
  const bindings: unknown[] = []
  const movements = movementCtes({
    kind: 'order',
    reason: '',
    lines: decisions.flatMap((decision) =>
      decision.lines.map((line) => ({
        productId: line.productId,
        delta: -line.qty,
        orderId: decision.orderId,
        reason: `order #${decision.orderId}`,
      }))
    ),
  })
  if (movements) {
    ctes.push(movements.sql)
    bindings.push(...movements.bindings)
  }
  if (decisions.length > 0) {
    // The time of this statement, not of the transaction's start: an order
    // of the batch may have been placed after this transaction began, and
    // is never confirmed before it was created. Confirmed and rejected
    // orders in two updates of disjoint rows, with no CASE over the time
    // (Citus refuses a non-immutable function inside CASE).
    ctes.push(`confirmed as (
      update orders o
      set status = 'confirmed', rejection_reason = null, updated_at = statement_timestamp(),
          confirmed_at = statement_timestamp()
      where o.id in (select unnest(?::bigint[]))
    )`)
    ctes.push(`rejected as (
      update orders o
      set status = 'rejected', rejection_reason = f.reason, updated_at = statement_timestamp()
      from json_to_recordset(?::json) as f(id bigint, reason text)
      where o.id = f.id
    )`)
    const confirmedIds = decisions
      .filter((decision) => decision.status === 'confirmed')
      .map((decision) => decision.orderId)
    bindings.push(
      `{${confirmedIds.join(',')}}`,
      JSON.stringify(
        decisions
          .filter((decision) => decision.status === 'rejected')
          .map((decision) => ({ id: decision.orderId, reason: decision.reason }))
      )
    )
  }
  const refs = [orderId, ...decisions.map((decision) => decision.orderId)]
  const sql = `${ctes.length ? `with ${ctes.join(',\n')}\n` : ''}${outboxDoneManySql(JOB, 'select unnest(?::bigint[])')}`
  await trx.rawQuery(sql, [...bindings, `{${refs.join(',')}}`] as never)
}
