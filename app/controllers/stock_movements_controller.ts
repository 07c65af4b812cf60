import type { HttpContext } from '@adonisjs/core/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import ProductPolicy from '#policies/product_policy'
import { ProductService } from '#services/product_service'
import { stockMovementListValidator } from '#validators/product'

const products = new ProductService()

/**
 * `/api/products/:id/stock-movements`: a product's stock ledger.
 */
export default class StockMovementsController {
  async index({ params, request, auth, bouncer }: HttpContext) {
    const product = await products.find(params.id, auth.getUserOrFail() as AuthPrincipal)
    await bouncer.with(ProductPolicy).authorize('viewStockMovements', product)
    const page = await stockMovementListValidator.validate(request.qs())
    return products.stockMovements(product, page)
  }
}
