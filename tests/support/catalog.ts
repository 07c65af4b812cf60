import app from '@adonisjs/core/services/app'
import { withTenant } from '#tenancy/context'
import { recordInitialStock } from '#services/stock_ledger'
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
  const products = await app.container.make(ProductService)
  return withTenant(tenant.id, () => products.create(input))
}

/**
 * A product with a chosen id, written directly into the tenant's schema.
 * Ids are per schema (every tenant has a product 1), so cross-tenant tests
 * need an id that exists in one tenant only.
 */
export async function givenProductWithId(tenant: { id: number }, productId: number) {
  return withTenant(tenant.id, async (trx) => {
    const { rows } = await trx.rawQuery(
      `insert into products (id, name, sku, price, stock) values (?, ?, ?, 1, 5)
       returning id, name, sku, price, stock`,
      [productId, `Product ${productId}`, `SKU-ID-${productId}`]
    )
    await recordInitialStock(productId, 5, trx)
    return rows[0] as { id: number; name: string; sku: string; price: string; stock: number }
  })
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
