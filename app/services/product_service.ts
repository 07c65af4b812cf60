import { inject } from '@adonisjs/core'
import AppException from '#exceptions/app_exception'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { admit, sessionAdmission, withAdmittedTenant } from '#auth/admission'
import { admittedReadInOneRoundTrip, currentTenant, tenantQuery } from '#tenancy/context'
import {
  literalPage,
  literalPageSql,
  paginate,
  type Page,
  type PageRequest,
} from '#services/pagination'
import { moveStock, recordInitialStock } from '#services/stock_ledger'
import { UserService } from '#services/user_service'
import { PRODUCT_COLUMNS, type ProductRow } from '#models/product'
import { STOCK_MOVEMENT_COLUMNS, type StockMovementRow } from '#models/stock_movement'
import ProductTransformer from '#transformers/product_transformer'
import { recordWebhookEvent } from '#webhooks/record_event'
import {
  PRODUCT_ORDERINGS,
  type ProductInput,
  type ProductListQuery,
  type ProductPatch,
} from '#validators/product'

/**
 * `?search=` is matched as a literal substring: LIKE's wildcards and its
 * escape character are escaped, so `%`, `_` and `\` match themselves.
 */
export function likePattern(search: string) {
  return `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
}

/**
 * `lower(column) like lower(?)` is what the trigram GIN index on
 * lower(name) / lower(sku) answers.
 */
const SEARCH_SQL = `(lower(name) like lower(?) escape '\\' or lower(sku) like lower(?) escape '\\')`

type Visibility = Pick<AuthPrincipal, 'role'>

const UNENTERED = new Set(['42P01', '42501'])

/**
 * Products of the current tenant. Every query goes through the tenant
 * transaction (the caller's schema only) and returns plain rows.
 */
@inject()
export class ProductService {
  constructor(private users: UserService) {}

  /**
   * A page of products. Customers see active products only, whatever they
   * ask for. Ordered by the requested column, then by id, so pages never
   * overlap.
   */
  list(filters: ProductListQuery, user: Visibility) {
    const query = tenantQuery('products').select(PRODUCT_COLUMNS)

    const isActive = user.role === 'customer' ? true : filters.is_active
    if (isActive !== undefined) query.where('is_active', isActive)

    if (filters.search) {
      const pattern = likePattern(filters.search)
      query.whereRaw(SEARCH_SQL, [pattern, pattern])
    }

    const ordering = filters.ordering ?? 'id'
    const descending = ordering.startsWith('-')
    const column = descending ? ordering.slice(1) : ordering
    const direction = descending ? 'desc' : 'asc'
    query.orderBy(column, direction)
    if (column !== 'id') query.orderBy('id', direction)

    return paginate<ProductRow>(query, pageOf(filters))
  }

  /**
   * `list` for a request that has no tenant transaction yet (the list
   * route, start/routes/catalog.ts): in one round trip when it can, the
   * entry, the admission of `principal` and the page in one message
   * (admittedReadInOneRoundTrip), else in a tenant transaction as the
   * tenant middleware opens it. Answers what `list` would inside the
   * middleware's transaction: 401 or 403 from the admission (`admit`)
   * before anything else, customers see active products only (by the
   * role the database holds now, not the token's).
   */
  async listForRequest(
    filters: ProductListQuery,
    principal: AuthPrincipal
  ): Promise<Page<ProductRow>> {
    const page = await this.listInOneRoundTrip(filters, principal)
    return page ?? withAdmittedTenant(principal, () => this.list(filters, principal))
  }

  /**
   * The one-round-trip page, or null when it does not apply: a search
   * (the pattern is a bind parameter of `list`), a page past the end (its
   * total needs a count of its own) or a role that changed between
   * customer and staff since the token was issued (the page was built for
   * the token's role). The page statement is built from validated values
   * only: a boolean, an ordering column of PRODUCT_ORDERINGS, integers.
   */
  private async listInOneRoundTrip(
    filters: ProductListQuery,
    principal: AuthPrincipal
  ): Promise<Page<ProductRow> | null> {
    if (filters.search !== undefined) return null
    const customer = principal.role === 'customer'
    const isActive = customer ? true : filters.is_active
    const ordering = filters.ordering ?? 'id'
    const descending = ordering.startsWith('-')
    const column = descending ? ordering.slice(1) : ordering
    if (column !== 'id' && !(PRODUCT_ORDERINGS as readonly string[]).includes(column)) return null
    const direction = descending ? 'desc' : 'asc'
    const order = [{ column, direction } as const]
    if (column !== 'id') order.push({ column: 'id', direction })
    const where = isActive === undefined ? null : isActive ? 'is_active' : 'not is_active'
    const request = pageOf(filters)
    const sql = literalPageSql(
      { table: 'products', columns: PRODUCT_COLUMNS, where, order },
      request
    )

    let rows: Record<string, any>[]
    try {
      ;[rows] = await admittedReadInOneRoundTrip(principal.tenantId, [sql], {
        admission: sessionAdmission(principal),
        check: (entry) => admit(principal, entry),
      })
    } catch (error) {
      // The message failed before the admission was seen: a tenant that is
      // gone (no schema: 42P01; a schema whose guard matches no entered
      // tenant: 42501). The regular transaction answers it (401).
      if (UNENTERED.has((error as { code?: string }).code ?? '')) return null
      throw error
    }
    if ((principal.role === 'customer') !== customer) return null
    return literalPage(rows as ProductRow[], request)
  }

  /**
   * The product as the user may see it, or a 404 (missing, of another
   * tenant, or inactive for a customer). `lock` takes the row lock for the
   * rest of the request's transaction.
   */
  async find(
    productId: number,
    user: Visibility,
    options: { lock?: boolean } = {}
  ): Promise<ProductRow> {
    const query = tenantQuery('products').select(PRODUCT_COLUMNS).where('id', productId)
    if (user.role === 'customer') query.where('is_active', true)
    if (options.lock) query.forUpdate()
    const row: ProductRow | undefined = await query.first()
    if (!row) throw AppException.notFound('Product not found')
    return row
  }

  /**
   * Creates a product and its opening `initial` movement. A taken sku is a
   * unique violation of the database (409 on "sku"), not a prior check.
   */
  async create(input: ProductInput): Promise<ProductRow> {
    if (input.assigned_to) await this.users.assertActiveStaff(input.assigned_to)

    const [row]: ProductRow[] = await currentTenant()
      .trx.table('products')
      .insert({
        name: input.name,
        sku: input.sku,
        price: input.price,
        stock: input.stock,
        description: input.description ?? '',
        is_active: input.is_active ?? true,
        assigned_to: input.assigned_to ?? null,
      })
      .returning(PRODUCT_COLUMNS)
    await recordInitialStock(row.id, input.stock)
    await recordWebhookEvent('product.created', new ProductTransformer(row).toObject())
    return row
  }

  /**
   * Applies a PUT or PATCH to a product locked by `find(…, {lock: true})`.
   * A new stock value becomes a `manual_set` movement of the difference,
   * computed from the locked row: concurrent updates queue on the lock, so
   * each sees the stock the previous one left and the ledger stays whole.
   */
  async update(product: ProductRow, changes: ProductPatch): Promise<ProductRow> {
    if (changes.assigned_to && changes.assigned_to !== product.assigned_to) {
      await this.users.assertActiveStaff(changes.assigned_to)
    }

    if (changes.stock !== undefined && changes.stock !== product.stock) {
      await moveStock({
        productId: product.id,
        delta: changes.stock - product.stock,
        kind: 'manual_set',
        reason: 'manual set',
      })
    }

    const columns: Record<string, unknown> = {}
    for (const key of ['name', 'sku', 'price', 'is_active', 'assigned_to'] as const) {
      if (changes[key] !== undefined) columns[key] = changes[key]
    }
    if (changes.description !== undefined) columns.description = changes.description ?? ''
    columns.updated_at = currentTenant().trx.raw('now()')

    const [row]: ProductRow[] = await tenantQuery('products')
      .where('id', product.id)
      .update(columns)
      .returning(PRODUCT_COLUMNS)
    await recordWebhookEvent('product.updated', new ProductTransformer(row).toObject())
    return row
  }

  /**
   * Deletes the product with its ledger and adjustments (cascade). Orders
   * keep their item snapshots: order_items has no foreign key to products.
   */
  async delete(product: ProductRow) {
    await tenantQuery('products').where('id', product.id).delete()
    await recordWebhookEvent('product.deleted', new ProductTransformer(product).toObject())
  }

  /**
   * A page of the product's ledger, newest first.
   */
  stockMovements(product: ProductRow, request: PageRequest) {
    const query = tenantQuery('stock_movements')
      .select(STOCK_MOVEMENT_COLUMNS)
      .where('product_id', product.id)
      .orderBy('id', 'desc')
    return paginate<StockMovementRow>(query, pageOf(request))
  }
}

function pageOf(request: PageRequest): PageRequest {
  return { page: request.page, per_page: request.per_page }
}
