import vine from '@vinejs/vine'
import { pagination, text } from '#validators/rules'
import { ALL_EVENTS, WEBHOOK_EVENTS } from '#webhooks/events'

/**
 * Webhook endpoints (CONTRACT.md, Webhooks). The URL's shape is checked
 * here; whether it may be called (https, public address) by the URL guard
 * in the service, also a 422 on `url`.
 */
const url = () => text().trim().minLength(1).maxLength(2048)
const events = () =>
  vine
    .array(vine.enum([...WEBHOOK_EVENTS, ALL_EVENTS] as const))
    .minLength(1)
    .maxLength(WEBHOOK_EVENTS.length + 1)
    .distinct()
const description = () => text().trim().maxLength(500).nullable()

export const createWebhookValidator = vine.create({
  url: url(),
  events: events(),
  description: description().optional(),
})

export const updateWebhookValidator = vine.create({
  url: url().optional(),
  events: events().optional(),
  description: description().optional(),
  is_active: vine.boolean({ strict: true }).optional(),
})

export const listWebhooksValidator = vine.create({ ...pagination })

export const listDeliveriesValidator = vine.create({
  ...pagination,
  status: vine.enum(['pending', 'delivered', 'failed'] as const).optional(),
})
