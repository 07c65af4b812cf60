import { BaseTransformer } from '@adonisjs/core/transformers'
import type { ProductRow } from '#models/product'
import { directTransform } from '#transformers/direct_transform'

/**
 * The contract's `product`.
 */
export default class ProductTransformer extends BaseTransformer<ProductRow> {
  static transform = directTransform

  toObject() {
    const row = this.resource
    return {
      id: row.id,
      name: row.name,
      sku: row.sku,
      price: row.price,
      stock: row.stock,
      description: row.description,
      is_active: row.is_active,
      assigned_to: row.assigned_to,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    }
  }
}
