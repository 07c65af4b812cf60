import vine from '@vinejs/vine'
import { id, money, pagination, text, wholeNumber } from '#validators/rules'
import { MAX_STOCK } from '#models/product'

/**
 * A stock count: a whole number within PostgreSQL's integer range.
 */
const stock = () => wholeNumber(0, MAX_STOCK)

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
