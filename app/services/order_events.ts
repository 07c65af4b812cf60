import db from '@adonisjs/lucid/services/db'
import { tenantQuery } from '#tenancy/context'
import { ORDER_COLUMNS, type OrderRow } from '#models/order'
import OrderTransformer from '#transformers/order_transformer'
import { recordWebhookEvents, subscribersOf } from '#webhooks/record_event'

export type OrderEvent =
  'order.confirmed' | 'order.rejected' | 'order.cancelled' | 'order.shipped' | 'order.delivered'

/**
 * Records the webhook event of a change of an order's state, in the
 * transaction of the change, with the order as the API shows it now. The
 * order is read only when an active endpoint subscribes to the event (one
 * query when none does). Placement records `order.created` itself, with the
 * order it has just read.
 */
export async function recordOrderEvent(type: OrderEvent, orderId: number) {
  await recordOrderEvents(type, [orderId])
}

/**
 * The same for several orders that went through the same change (a
 * confirmation batch): one read of them all and one statement for all
 * their events, whatever their number; the events in the order of `orderIds`.
 */
export async function recordOrderEvents(type: OrderEvent, orderIds: number[]) {
  if (orderIds.length === 0) return
  const rows: OrderRow[] = await tenantQuery('orders as o')
    .select(db.raw(ORDER_COLUMNS))
    .whereIn('o.id', orderIds)
    .whereExists((query) => {
      query
        .from('webhook_endpoints as e')
        .whereRaw('e.is_active and e.events && ?::text[]', [subscribersOf(type)])
    })
  if (rows.length === 0) return
  const byId = new Map(rows.map((row) => [Number(row.id), row]))
  const ordered = orderIds.flatMap((id) => {
    const row = byId.get(id)
    return row ? [new OrderTransformer(row).toObject()] : []
  })
  await recordWebhookEvents(type, ordered)
}
