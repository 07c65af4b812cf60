import vine from '@vinejs/vine'
import { MAX_ID, pagination } from '#validators/rules'

export const ORDER_STATUSES = [
  'pending',
  'confirmed',
  'rejected',
  'shipped',
  'delivered',
  'cancelled',
] as const
export type OrderStatus = (typeof ORDER_STATUSES)[number]

export const MAX_LINES = 100
export const MAX_QTY = 1000

/**
 * A whole number from a JSON integer or a string of digits ("7"), within
 * [min, max]. Stricter than vine.number(), which also turns true, [5],
 * "0x10" or "1e1" into numbers.
 */
const integerRule = vine.createRule<{ min: number; max: number }>((value, options, field) => {
  const parsed =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*-?\d{1,16}\s*$/.test(value)
        ? Number(value)
        : Number.NaN
  if (!Number.isSafeInteger(parsed) || parsed < options.min || parsed > options.max) {
    field.report(
      `The {{ field }} field must be a whole number between ${options.min} and ${options.max}`,
      'integer',
      field
    )
    return
  }
  field.mutate(parsed, field)
})

export const integer = (min: number, max: number) =>
  vine.any().use(integerRule({ min, max })) as unknown as ReturnType<typeof vine.number>

export const strictId = () => integer(1, MAX_ID)

/**
 * PostgreSQL text cannot hold U+0000: a 422, not a database error.
 */
export const noNullCharacter = vine.createRule((value, _options, field) => {
  if (typeof value === 'string' && value.includes('\u0000')) {
    field.report('The {{ field }} field must not contain a null character', 'noNull', field)
  }
})

/**
 * POST /api/orders/: 1–100 lines of {product_id, qty 1–1000}, an optional
 * note.
 */
export const placeOrderValidator = vine.create({
  items: vine
    .array(
      vine.object({
        product_id: strictId(),
        qty: integer(1, MAX_QTY),
      })
    )
    .minLength(1)
    .maxLength(MAX_LINES),
  note: vine.string().maxLength(2000).use(noNullCharacter()).nullable().optional(),
})

/**
 * PATCH /api/orders/:id/.
 */
export const updateOrderValidator = vine.create({
  status: vine.enum(ORDER_STATUSES).optional(),
  assigned_to: strictId().nullable().optional(),
})

/**
 * GET /api/orders/.
 */
export const listOrdersValidator = vine.create({
  ...pagination,
  status: vine.enum(ORDER_STATUSES).optional(),
})

/**
 * The Idempotency-Key header: 1–255 visible ASCII characters.
 */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/
