/**
 * The events an endpoint may subscribe to (CONTRACT.md, Webhooks); `*`
 * subscribes to all. `ping` is sent only by POST …/ping/, to one endpoint.
 */
export const WEBHOOK_EVENTS = [
  'order.created',
  'order.confirmed',
  'order.rejected',
  'order.cancelled',
  'order.shipped',
  'order.delivered',
  'product.created',
  'product.updated',
  'product.deleted',
  'stock_adjustment.applied',
  'stock_adjustment.rejected',
] as const

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number]

export const ALL_EVENTS = '*'

export const PING_EVENT = 'ping'
