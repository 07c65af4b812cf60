import db from '@adonisjs/lucid/services/db'
import { tenantQuery } from '#tenancy/context'
import { ORDER_COLUMNS, type OrderRow } from '#models/order'
import OrderTransformer from '#transformers/order_transformer'
import { recordWebhookEvent, subscribersOf } from '#webhooks/record_event'

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
  const row: OrderRow | undefined = await tenantQuery('orders as o')
    .select(db.raw(ORDER_COLUMNS))
    .where('o.id', orderId)
    .whereExists((query) => {
      query
        .from('webhook_endpoints as e')
        .whereRaw('e.is_active and e.events && ?::text[]', [subscribersOf(type)])
    })
    .first()
  if (row) await recordWebhookEvent(type, new OrderTransformer(row).toObject())
}
