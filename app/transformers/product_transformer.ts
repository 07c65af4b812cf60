/**
 * A `products` row as PostgreSQL returns it: int8 ids parsed to numbers,
 * numeric as a string ("12.00"), timestamptz as a Date.
 */
export interface ProductRow {
  id: number
  name: string
  sku: string
  price: string
  stock: number
  description: string
  is_active: boolean
  assigned_to: number | null
  created_at: Date
  updated_at: Date
}

/**
 * The columns every product query selects, in the order of the JSON.
 */
export const PRODUCT_COLUMNS: string[] = [
  'id',
  'name',
  'sku',
  'price',
  'stock',
  'description',
  'is_active',
  'assigned_to',
  'created_at',
  'updated_at',
]

export interface ProductJson {
  id: number
  name: string
  sku: string
  price: string
  stock: number
  description: string
  is_active: boolean
  assigned_to: number | null
  created_at: string
  updated_at: string
}

/**
 * The contract's `product`: plain row in, JSON out (no model, no luxon).
 */
export function productTransformer(row: ProductRow): ProductJson {
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
