import vine from '@vinejs/vine'
import { id, money, pagination } from '#validators/rules'

/**
 * `products.stock` is a PostgreSQL integer with a `stock >= 0` CHECK.
 */
export const MAX_STOCK = 2_147_483_647

/**
 * PostgreSQL text cannot hold U+0000: refuse it with a 422 instead of
 * letting the database fail.
 */
const noNullCharacter = vine.createRule((value, _options, field) => {
  if (typeof value === 'string' && value.includes('\u0000')) {
    field.report(
      'The {{ field }} field must not contain a null character',
      'noNullCharacter',
      field
    )
  }
})

const text = () => vine.string().use(noNullCharacter())

/**
 * A whole number from a JSON number or a string of digits ("5"). Vine's
 * own number() goes through Number(), which also turns "", [], true and
 * " " into numbers; a stock count should not be that lenient.
 */
const stockRule = vine.createRule((value, _options, field) => {
  const parsed =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value)
        ? Number(value)
        : Number.NaN
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > MAX_STOCK) {
    field.report(
      `The {{ field }} field must be a whole number between 0 and ${MAX_STOCK}`,
      'stock',
      field
    )
    return
  }
  field.mutate(parsed, field)
})

const stock = () => vine.any().use(stockRule()) as unknown as ReturnType<typeof vine.number>

const fields = {
  name: text().trim().minLength(1).maxLength(200),
  sku: text().trim().minLength(1).maxLength(64),
  price: money(),
  stock: stock(),
  description: text().maxLength(5000).nullable().optional(),
  is_active: vine.boolean().optional(),
  assigned_to: id().nullable().optional(),
}

/**
 * POST and PUT: every required field present. Optional fields that a PUT
 * leaves out keep their current value (as Django REST framework's PUT does
 * for fields that are not required).
 */
export const productValidator = vine.create(fields)

/**
 * PATCH: any subset.
 */
export const productPatchValidator = vine.create({
  name: fields.name.clone().optional(),
  sku: fields.sku.clone().optional(),
  price: money().optional(),
  stock: stock().optional(),
  description: fields.description.clone(),
  is_active: fields.is_active.clone(),
  assigned_to: fields.assigned_to.clone(),
})

export const PRODUCT_ORDERINGS = ['name', 'price', 'created_at', 'stock'] as const

/**
 * `GET /api/products/` query string.
 */
export const productListValidator = vine.create({
  ...pagination,
  search: text().trim().maxLength(200).optional(),
  is_active: vine.boolean().optional(),
  ordering: vine
    .enum(PRODUCT_ORDERINGS.flatMap((column) => [column, `-${column}`] as const))
    .optional(),
})

/**
 * `GET /api/products/:id/stock-movements/` query string.
 */
export const stockMovementListValidator = vine.create({ ...pagination })

export type ProductInput = Awaited<ReturnType<typeof productValidator.validate>>
export type ProductPatch = Awaited<ReturnType<typeof productPatchValidator.validate>>
export type ProductListQuery = Awaited<ReturnType<typeof productListValidator.validate>>
