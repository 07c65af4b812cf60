import { withTenant } from '#tenancy/context'
import { ProductService } from '#services/product_service'
import type { ProductInput } from '#validators/product'

/**
 * Catalog fixtures: products made through ProductService (the code path
 * of POST /api/products/), so they come with their `initial` movement.
 */
let counter = 0

export async function givenProduct(tenant: { id: number }, attributes: Partial<ProductInput> = {}) {
  counter++
  const input: ProductInput = {
    name: `Product ${counter}`,
    sku: `SKU-${process.pid}-${counter}`,
    price: '10.00',
    stock: 5,
    ...attributes,
  }
  return withTenant(tenant.id, () => new ProductService().create(input))
}

/**
 * The product's stock and the sum of its movements, read directly.
 */
export async function ledgerOf(tenant: { id: number }, productId: number) {
  return withTenant(tenant.id, async (trx) => {
    const { rows } = await trx.rawQuery(
      `select p.stock,
              (select coalesce(sum(delta), 0)::int from stock_movements m where m.product_id = p.id) as total,
              (select count(*)::int from stock_movements m where m.product_id = p.id) as movements
       from products p where p.id = ?`,
      [productId]
    )
    return rows[0] as { stock: number; total: number; movements: number } | undefined
  })
}

/**
 * Every error has the contract's shape.
 */
export function assertErrorShape(assert: any, body: any, code?: string) {
  assert.isObject(body)
  assert.isArray(body.errors)
  assert.isAbove(body.errors.length, 0)
  for (const error of body.errors) {
    assert.isString(error.message)
    assert.match(error.code, /^E_[A-Z0-9_]+$/)
    if ('field' in error) assert.isString(error.field)
  }
  if (code) assert.equal(body.errors[0].code, code)
}
