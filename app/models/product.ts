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

/**
 * `products.stock` is a PostgreSQL integer: the largest stock a product
 * can hold (validators and the ledger both stop there).
 */
export const MAX_STOCK = 2_147_483_647
