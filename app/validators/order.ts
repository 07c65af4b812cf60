import vine, { SimpleMessagesProvider } from '@vinejs/vine'
import { ORDER_STATUSES, type OrderStatus } from '#models/order'
import { id, pagination, text, wholeNumber } from '#validators/rules'

export { ORDER_STATUSES, type OrderStatus }

export const MAX_LINES = 100
export const MAX_QTY = 1000

/**
 * POST /api/orders/: 1–100 lines of {product_id, qty 1–1000}, an optional
 * note.
 */
export const placeOrderValidator = vine.create({
  items: vine
    .array(
      vine.object({
        product_id: id(),
        qty: wholeNumber(1, MAX_QTY),
      })
    )
    .minLength(1)
    .maxLength(MAX_LINES),
  note: text().maxLength(2000).nullable().optional(),
})

/**
 * PATCH /api/orders/:id/.
 */
export const updateOrderValidator = vine.create({
  status: vine.enum(ORDER_STATUSES).optional(),
  assigned_to: id().nullable().optional(),
})

/**
 * GET /api/orders/.
 */
export const listOrdersValidator = vine.create({
  ...pagination,
  status: vine.enum(ORDER_STATUSES).optional(),
})

/**
 * The optional Idempotency-Key header of POST /api/orders/: 1–255 visible
 * ASCII characters. Validated as `{"Idempotency-Key": <header>}`.
 */
export const idempotencyKeyValidator = vine.create({
  'Idempotency-Key': vine
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/)
    .optional(),
})
idempotencyKeyValidator.messagesProvider = new SimpleMessagesProvider({
  'Idempotency-Key.regex': 'The Idempotency-Key header must be 1 to 255 visible ASCII characters',
})
