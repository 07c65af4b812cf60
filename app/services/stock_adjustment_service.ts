import { inject } from '@adonisjs/core'
import AppException from '#exceptions/app_exception'
import { currentTenant, tenantQuery } from '#tenancy/context'
import { paginate, type PageRequest } from '#services/pagination'
import { ProductService } from '#services/product_service'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { STOCK_ADJUSTMENT_COLUMNS, type StockAdjustmentRow } from '#models/stock_adjustment'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Stock adjustments of a product: requested here (`pending`), applied or
 * rejected by the worker (app/jobs/apply_adjustment.ts).
 */
@inject()
export class StockAdjustmentService {
  constructor(private products: ProductService) {}

  /**
   * The product an adjustment is about, as the caller may see it, or 404.
   */
  findProduct(principal: AuthPrincipal, productId: number) {
    return this.products.find(productId, principal)
  }

  /**
   * Records a stock adjustment request (`pending`) and its outbox row in
   * one statement; the worker applies it once the transaction has committed.
   */
  async request(
    principal: AuthPrincipal,
    productId: number,
    input: { delta: number; reason: string }
  ): Promise<StockAdjustmentRow> {
    const { rows } = await currentTenant().trx.rawQuery(
      `with adjustment as (
         insert into stock_adjustments (product_id, delta, reason, requested_by)
         values (?, ?, ?, ?)
         returning ${STOCK_ADJUSTMENT_COLUMNS.join(', ')}
       ), outbox_row as (
         ${outboxInsertSql(JOBS['apply-adjustment'].name, 'adjustment')}
       )
       select * from adjustment`,
      [productId, input.delta, input.reason, principal.id]
    )
    relayAfterCommit(JOBS['apply-adjustment'], rows[0].id)
    return rows[0]
  }

  async find(productId: number, adjustmentId: number): Promise<StockAdjustmentRow> {
    const row = await tenantQuery('stock_adjustments')
      .select(STOCK_ADJUSTMENT_COLUMNS)
      .where({ id: adjustmentId, product_id: productId })
      .first()
    if (!row) throw AppException.notFound('Stock adjustment not found')
    return row
  }

  list(productId: number, page: PageRequest) {
    const query = tenantQuery('stock_adjustments')
      .select(STOCK_ADJUSTMENT_COLUMNS)
      .where('product_id', productId)
      .orderBy('id', 'desc')
    return paginate<StockAdjustmentRow>(query, page)
  }
}
