/**
 * Rows of the webhook tables as the endpoints read them.
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
