import { BaseTransformer } from '@adonisjs/core/transformers'
import type { WebhookDeliveryRow } from '#models/webhook'

/**
 * The contract's webhook `delivery`.
 */
export default class WebhookDeliveryTransformer extends BaseTransformer<WebhookDeliveryRow> {
  toObject() {
    const row = this.resource
    return {
      id: row.id,
      event_id: row.event_id,
      event_type: row.event_type,
      status: row.status,
      attempts: row.attempts,
      last_status_code: row.last_status_code,
      last_error: row.last_error,
      next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
      created_at: row.created_at.toISOString(),
      delivered_at: row.delivered_at?.toISOString() ?? null,
    }
  }
}
