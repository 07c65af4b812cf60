import { createHash } from 'node:crypto'
import { inject } from '@adonisjs/core'
import db from '@adonisjs/lucid/services/db'
import { errors as vineErrors } from '@vinejs/vine'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import AppException from '#exceptions/app_exception'
import { currentTenant, tenantQuery } from '#tenancy/context'
import { OrderService } from '#services/order_service'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import OrderTransformer from '#transformers/order_transformer'
import { recordWebhookEvent } from '#webhooks/record_event'
import type { OrderRow } from '#models/order'
import { MAX_QTY } from '#validators/order'
import type { AuthPrincipal } from '#auth/jwt_guard'

export interface PlaceOrderInput {
  items: { product_id: number; qty: number }[]
  note?: string | null
}

interface Line {
  position: number
  product_id: number
  qty: number
  sku: string
  name: string
  unit_price: string
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
    const requestHash = createHash('sha256')
      .update(
        JSON.stringify({
          items: [...merged.values()]
            .map(({ product_id: p, qty }) => [p, qty])
            .sort((a, b) => a[0] - b[0]),
          note,
        })
      )
      .digest('hex')

    if (idempotencyKey) {
      const earlier = await this.findIdempotentOrder(principal, idempotencyKey, requestHash)
      if (earlier) return { order: earlier, replayed: true }
    }

    const lines = await snapshotLines(input.items, merged)
    const { trx } = currentTenant()
    const insert = (client: TransactionClientContract) =>
      client.rawQuery(PLACE_SQL, [
        JSON.stringify(lines),
        principal.id,
        note,
        principal.id,
        idempotencyKey ?? null,
        requestHash,
        idempotencyKey ?? null,
      ] as never)

    let orderId: number
    try {
      const { rows } = idempotencyKey
        ? await trx.transaction((savepoint) => insert(savepoint))
        : await insert(trx)
      orderId = rows[0].id
    } catch (error) {
      const pg = error as { code?: string; table?: string }
      if (idempotencyKey && pg.code === '23505' && pg.table === 'idempotency_keys') {
        const earlier = await this.findIdempotentOrder(principal, idempotencyKey, requestHash)
        if (earlier) return { order: earlier, replayed: true }
      }
      throw error
    }

    relayAfterCommit(JOBS['confirm-order'], orderId)
    const order = await this.orders.find(principal, orderId)
    await recordWebhookEvent('order.created', new OrderTransformer(order).toObject())
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

const PLACE_SQL = `
  with lines as (
    select * from jsonb_to_recordset(?::jsonb)
      as l(position int, product_id bigint, sku text, name text, unit_price numeric, qty int)
  ), new_order as (
    insert into orders (customer_id, total, note)
    select ?, coalesce(sum(unit_price * qty), 0), ? from lines
    returning id
  ), items as (
    insert into order_items (order_id, product_id, sku, name, unit_price, qty, line_total)
    select new_order.id, l.product_id, l.sku, l.name, l.unit_price, l.qty, l.unit_price * l.qty
    from new_order cross join lines l
    order by l.position
    returning id
  ), outbox_row as (
    ${outboxInsertSql(JOBS['confirm-order'].name, 'new_order')}
    returning id
  ), key_row as (
    insert into idempotency_keys (customer_id, key, request_hash, order_id)
    select ?, ?, ?, id from new_order where ?::text is not null
    returning id
  )
  select id from new_order`

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

/**
 * Reads the products of the order (existing and active in this tenant) and
 * snapshots their name, sku and price. Every line naming another product
 * is a 422 on its `items.<n>.product_id`.
 */
async function snapshotLines(
  items: PlaceOrderInput['items'],
  merged: ReturnType<typeof mergeLines>
): Promise<Line[]> {
  const ids = [...merged.keys()]
  const products: { id: number; name: string; sku: string; price: string }[] = await tenantQuery(
    'products'
  )
    .select('id', 'name', 'sku', db.raw('price::text as price'))
    .whereIn('id', ids)
    .where('is_active', true)
  const byId = new Map(products.map((product) => [product.id, product]))

  const errors = items.flatMap((item, index) =>
    byId.has(item.product_id)
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

  assertTotalFits(merged, byId)

  return [...merged.values()]
    .sort((a, b) => a.index - b.index)
    .map((line, position) => {
      const product = byId.get(line.product_id)!
      return {
        position,
        product_id: line.product_id,
        qty: line.qty,
        sku: product.sku,
        name: product.name,
        unit_price: product.price,
      }
    })
}

/**
 * `orders.total` is numeric(14, 2): at most 999,999,999,999.99. Checked in
 * integer cents (BigInt, never a float) so an enormous order is a 422, not
 * a numeric overflow in the database.
 */
const MAX_TOTAL_CENTS = 99_999_999_999_999n

function assertTotalFits(
  merged: ReturnType<typeof mergeLines>,
  products: Map<number, { price: string }>
) {
  let total = 0n
  for (const line of merged.values()) {
    const [units, cents = ''] = products.get(line.product_id)!.price.split('.')
    total += (BigInt(units) * 100n + BigInt(cents.padEnd(2, '0') || '0')) * BigInt(line.qty)
  }
  if (total > MAX_TOTAL_CENTS) {
    throw new vineErrors.E_VALIDATION_ERROR([
      { field: 'items', message: 'The order total must be at most 999999999999.99', rule: 'max' },
    ])
  }
}
