import { BaseTransformer } from '@adonisjs/core/transformers'
import type { OrderRow } from '#models/order'
import { directTransform } from '#transformers/direct_transform'

/**
 * The contract's `order`, items (snapshots) included.
 */
export default class OrderTransformer extends BaseTransformer<OrderRow> {
  static transform = directTransform

  toObject() {
    const row = this.resource
    return {
      id: row.id,
      status: row.status,
      customer_id: row.customer_id,
      assigned_to: row.assigned_to,
      items: row.items,
      total: row.total,
      note: row.note,
      rejection_reason: row.rejection_reason,
      created_at: row.created_at.toISOString(),
      confirmed_at: row.confirmed_at?.toISOString() ?? null,
      updated_at: row.updated_at.toISOString(),
    }
  }
}
