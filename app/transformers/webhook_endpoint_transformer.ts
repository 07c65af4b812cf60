import { BaseTransformer } from '@adonisjs/core/transformers'
import type { WebhookEndpointRow } from '#models/webhook'

/**
 * The contract's webhook `endpoint` (never its secret).
 */
export default class WebhookEndpointTransformer extends BaseTransformer<WebhookEndpointRow> {
  toObject() {
    const row = this.resource
    return {
      id: row.id,
      url: row.url,
      events: row.events,
      description: row.description,
      is_active: row.is_active,
      disabled_reason: row.disabled_reason,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    }
  }
}
