import { createHash } from 'node:crypto'
import { inject } from '@adonisjs/core'
import { errors as vineErrors } from '@vinejs/vine'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import AppException from '#exceptions/app_exception'
import { currentTenant } from '#tenancy/context'
import { OrderService } from '#services/order_service'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import OrderTransformer from '#transformers/order_transformer'
import { recordWebhookEvent, subscribersOf } from '#webhooks/record_event'
import { orderColumns, type OrderRow } from '#models/order'
import { MAX_QTY } from '#validators/order'
import type { AuthPrincipal } from '#auth/jwt_guard'

export interface PlaceOrderInput {
  items: { product_id: number; qty: number }[]
  note?: string | null
}

export const IDEMPOTENCY_WINDOW = '24 hours'

/**
 * Placing orders: a customer's order is written `pending`, with its
 * outbox row, in the request's tenant transaction; the worker confirms or
 * rejects it once that transaction has committed.
 */
@inject()
export class OrderPlacementService {
  constructor(private orders: OrderService) {}

  /**
   * Places an order for the customer: `pending`, with item snapshots (name,
   * sku, unit price) and a total computed in PostgreSQL numeric, plus its
   * outbox row, in the request's tenant transaction. The worker confirms or
   * rejects it once the transaction has committed.
   *
   * With an idempotency key, the key is stored in the same statement; the
   * unique index (customer_id, key) serialises concurrent requests with one
   * key: the loser rolls back to its savepoint and answers the winner's
   * order (same body) or 409 (another body).
   */
  async place(
    principal: AuthPrincipal,
    input: PlaceOrderInput,
    idempotencyKey?: string
  ): Promise<{ order: OrderRow; replayed: boolean }> {
    const merged = mergeLines(input.items)
    const note = input.note ?? null
    // Only a request with a key is compared with an earlier one.
    const requestHash = idempotencyKey ? hashRequest(merged, note) : null

    if (idempotencyKey) {
      const earlier = await this.findIdempotentOrder(principal, idempotencyKey, requestHash!)
      if (earlier) return { order: earlier, replayed: true }
    }

    const { trx } = currentTenant()
    const insert = (client: TransactionClientContract) =>
      client.rawQuery<{ rows: PlacedRow[] }>(PLACE_SQL, [
        JSON.stringify(orderedLines(merged)),
        principal.id,
        note,
        principal.id,
        idempotencyKey ?? null,
        requestHash,
        idempotencyKey ?? null,
        subscribersOf('order.created'),
      ] as never)

    let placed: PlacedRow
    try {
      const { rows } = idempotencyKey
        ? await trx.transaction((savepoint) => insert(savepoint))
        : await insert(trx)
      placed = rows[0]
    } catch (error) {
      const pg = error as { code?: string; table?: string }
      if (idempotencyKey && pg.code === '23505' && pg.table === 'idempotency_keys') {
        const earlier = await this.findIdempotentOrder(principal, idempotencyKey, requestHash!)
        if (earlier) return { order: earlier, replayed: true }
      }
      throw error
    }
    assertPlaced(input.items, placed)

    const order = orderOf(placed)
    relayAfterCommit(JOBS['confirm-order'], order.id)
    if (placed.notify) {
      await recordWebhookEvent('order.created', new OrderTransformer(order).toObject())
    }
    return { order, replayed: false }
  }

  /**
   * The order an earlier request with this key created, when the key is
   * still valid (24 hours); 409 when that request had another body. An
   * expired key is forgotten so it can be used again.
   */
  private async findIdempotentOrder(
    principal: AuthPrincipal,
    key: string,
    requestHash: string
  ): Promise<OrderRow | null> {
    const { trx } = currentTenant()
    await trx.rawQuery(
      `delete from idempotency_keys
       where customer_id = ? and key = ? and created_at <= now() - interval '${IDEMPOTENCY_WINDOW}'`,
      [principal.id, key]
    )
    const { rows } = await trx.rawQuery(
      'select request_hash, order_id from idempotency_keys where customer_id = ? and key = ?',
      [principal.id, key]
    )
    if (!rows[0]) return null
    if (rows[0].request_hash !== requestHash) {
      throw AppException.conflict('This Idempotency-Key was already used with another request body')
    }
    return this.orders.find(principal, rows[0].order_id)
  }
}

/**
 * What PLACE_SQL answers: which of the products were found (existing and
 * active), whether the total fits orders.total, whether any endpoint
 * subscribes to `order.created`, and the order as ORDER_COLUMNS reads it
 * (null columns when nothing was written).
 */
type PlacedRow = Omit<OrderRow, 'id'> & {
  id: number | null
  found: number[] | null
  fits: boolean
  notify: boolean
}

/**
 * The largest orders.total (numeric(14, 2)): a larger order is a 422, not
 * a numeric overflow in the database.
 */
const MAX_TOTAL = '999999999999.99'

/**
 * Places the order in one statement: snapshots the active products of the
 * lines (name, sku, price), and only when every line has its product and
 * the total (PostgreSQL numeric, never a float) fits, writes the order, its
 * items, its outbox row and the idempotency key. Data-modifying CTEs do not
 * see each other's rows, so the answer is built from what they return:
 * the stored values (the columns of orderColumns, over the written items), without
 * reading the order again.
 */
const PLACE_SQL = `
  with input as (
    select * from jsonb_to_recordset(?::jsonb) as l(position int, product_id bigint, qty int)
  ), lines as (
    select i.position, i.product_id, i.qty, p.sku, p.name, p.price as unit_price
    from input i join products p on p.id = i.product_id and p.is_active
  ), verdict as (
    select
      (select count(*) from lines) = (select count(*) from input) as complete,
      (select coalesce(sum(unit_price * qty), 0) from lines) <= ${MAX_TOTAL} as fits,
      (select array_agg(product_id) from lines) as found
  ), new_order as (
    insert into orders (customer_id, total, note)
    select ?, coalesce(sum(unit_price * qty), 0), ? from lines
    having (select complete and fits from verdict)
    returning *
  ), items as (
    insert into order_items (order_id, product_id, sku, name, unit_price, qty, line_total)
    select new_order.id, l.product_id, l.sku, l.name, l.unit_price, l.qty, l.unit_price * l.qty
    from new_order cross join lines l
    order by l.position
    returning id, product_id, sku, name, unit_price, qty, line_total
  ), outbox_row as (
    ${outboxInsertSql(JOBS['confirm-order'].name, 'new_order')}
    returning id
  ), key_row as (
    insert into idempotency_keys (customer_id, key, request_hash, order_id)
    select ?, ?, ?, id from new_order where ?::text is not null
    returning id
  )
  select v.found, v.fits,
    exists (
      select 1 from webhook_endpoints e where e.is_active and e.events && ?::text[]
    ) as notify,
    ${orderColumns('items i')}
  from verdict v left join new_order o on true`

/**
 * What an idempotent request is compared by: its merged lines (by product)
 * and its note, hashed.
 */
function hashRequest(merged: ReturnType<typeof mergeLines>, note: string | null): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        items: [...merged.values()]
          .map(({ product_id: p, qty }) => [p, qty])
          .sort((a, b) => a[0] - b[0]),
        note,
      })
    )
    .digest('hex')
}

/**
 * The merged lines in the order of their first appearance, as PLACE_SQL
 * takes them.
 */
function orderedLines(merged: ReturnType<typeof mergeLines>) {
  return [...merged.values()]
    .sort((a, b) => a.index - b.index)
    .map((line, position) => ({ position, product_id: line.product_id, qty: line.qty }))
}

/**
 * Every line naming a product that does not exist or is not active in this
 * tenant is a 422 on its `items.<n>.product_id`; then a total beyond
 * orders.total is a 422 on `items`. Nothing was written in either case.
 */
function assertPlaced(items: PlaceOrderInput['items'], placed: PlacedRow) {
  const found = new Set((placed.found ?? []).map(Number))
  const errors = items.flatMap((item, index) =>
    found.has(item.product_id)
      ? []
      : [
          {
            field: `items.${index}.product_id`,
            message: `Product ${item.product_id} does not exist or is not available`,
            rule: 'exists',
          },
        ]
  )
  if (errors.length > 0) throw new vineErrors.E_VALIDATION_ERROR(errors)
  if (!placed.fits) {
    throw new vineErrors.E_VALIDATION_ERROR([
      { field: 'items', message: `The order total must be at most ${MAX_TOTAL}`, rule: 'max' },
    ])
  }
  if (placed.id === null) throw new Error('The order was not written')
}

function orderOf(placed: PlacedRow): OrderRow {
  return {
    id: placed.id as number,
    status: placed.status,
    customer_id: placed.customer_id,
    assigned_to: placed.assigned_to,
    items: placed.items,
    total: placed.total,
    note: placed.note,
    rejection_reason: placed.rejection_reason,
    created_at: placed.created_at,
    confirmed_at: placed.confirmed_at,
    updated_at: placed.updated_at,
  }
}

/**
 * Duplicate lines of one product become one line with the summed quantity
 * (at most MAX_QTY), at the position of the first.
 */
function mergeLines(items: PlaceOrderInput['items']) {
  const merged = new Map<number, { product_id: number; qty: number; index: number }>()
  const errors: { field: string; message: string; rule: string }[] = []
  items.forEach((item, index) => {
    const line = merged.get(item.product_id)
    if (!line) {
      merged.set(item.product_id, { product_id: item.product_id, qty: item.qty, index })
      return
    }
    line.qty += item.qty
    if (line.qty > MAX_QTY) {
      errors.push({
        field: `items.${index}.qty`,
        message: `The total quantity of product ${item.product_id} must be at most ${MAX_QTY}`,
        rule: 'max',
      })
    }
  })
  if (errors.length > 0) throw new vineErrors.E_VALIDATION_ERROR(errors)
  return merged
}
