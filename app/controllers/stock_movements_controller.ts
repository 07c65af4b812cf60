import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import ProductPolicy from '#policies/product_policy'
import { ProductService } from '#services/product_service'
import StockMovementTransformer from '#transformers/stock_movement_transformer'
import { stockMovementListValidator } from '#validators/product'

/**
 * `/api/products/:id/stock-movements`: a product's stock ledger.
 */
@inject()
export default class StockMovementsController {
  constructor(private products: ProductService) {}

  async index({ params, request, auth, bouncer, serialize }: HttpContext) {
    const product = await this.products.find(params.id, auth.getUserOrFail())
    await bouncer.with(ProductPolicy).authorize('viewStockMovements', product)
    const filters = await request.validateUsing(stockMovementListValidator, { data: request.qs() })
    const page = await this.products.stockMovements(product, filters)
    return serialize({ data: StockMovementTransformer.transform(page.data), meta: page.meta })
  }
}
