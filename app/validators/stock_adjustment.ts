import vine from '@vinejs/vine'
import { pagination, text, wholeNumber } from '#validators/rules'
import { MAX_STOCK } from '#models/product'

const nonZero = vine.createRule((value, _options, field) => {
  if (value === 0) field.report('The {{ field }} field must not be 0', 'nonZero', field)
})

/**
 * POST /api/products/:id/stock-adjustments/: a non-zero whole `delta`
 * within the range of a stock, and a `reason` of 1–200 characters.
 */
export const createAdjustmentValidator = vine.create({
  delta: wholeNumber(-MAX_STOCK, MAX_STOCK).use(nonZero()),
  reason: text().trim().minLength(1).maxLength(200),
})

export const listAdjustmentsValidator = vine.create({ ...pagination })
