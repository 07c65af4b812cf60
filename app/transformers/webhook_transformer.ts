/**
 * Rows of the webhook tables as the endpoints read them, and the
 * contract's `endpoint` and `delivery`.
 */
export interface WebhookEndpointRow {
  id: number
  url: string
  events: string[]
  description: string
  is_active: boolean
  disabled_reason: string | null
  created_at: Date
  updated_at: Date
}

export const WEBHOOK_ENDPOINT_COLUMNS = [
  'id',
  'url',
  'events',
  'description',
  'is_active',
  'disabled_reason',
  'created_at',
  'updated_at',
]

export function webhookEndpointJson(row: WebhookEndpointRow) {
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

export interface WebhookDeliveryRow {
  id: number
  event_id: string
  event_type: string
  status: string
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: Date | null
  created_at: Date
  delivered_at: Date | null
}

/**
 * The columns of a delivery, its event's public id and type included
 * (`d` the delivery, `ev` its event).
 */
export const WEBHOOK_DELIVERY_COLUMNS = [
  'd.id',
  'ev.uid as event_id',
  'ev.type as event_type',
  'd.status',
  'd.attempts',
  'd.last_status_code',
  'd.last_error',
  'd.next_attempt_at',
  'd.created_at',
  'd.delivered_at',
]

export function webhookDeliveryJson(row: WebhookDeliveryRow) {
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
